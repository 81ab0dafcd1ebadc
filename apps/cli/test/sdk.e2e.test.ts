/**
 * The SDK as a user gets it: `scripts/pack-sdk.mjs` packs one tarball, which installs offline into
 * an empty project; the examples, type-checked there against the tarball's types, build real
 * transactions (viem, bitcoinjs-lib P2WPKH and Taproot, @solana/web3.js), sign them through a
 * running stack and verify them with the chain libraries. As a newcomer would: the admin makes the
 * keys, then issues a `signer` credential for them with `custody credentials issue`, and the
 * examples sign with that credential.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CustodyClient, isApiProblem } from "@custody/sdk";
import { CLI_MAIN, type Stack } from "../src/index.js";
import { startTestStack, stopTestStack } from "./helpers.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
/** Chain libraries the examples use, linked from the repository's node_modules (peers of the SDK). */
const LINKED = ["viem", "bitcoinjs-lib", "tiny-secp256k1", "@solana/web3.js", "@types/node"];

let stack: Stack | undefined;
let work: string;
let app: string;
let ecdsaKey: string;
let bip340Key: string;
let ed25519Key: string;
/** The profile of the `signer` credential the examples sign with. */
let signerProfile: string;

/** Packs the SDK, installs it into an empty project, links the chain libraries, compiles the examples. */
async function prepareProject(): Promise<void> {
  const { stdout } = await run(
    process.execPath,
    [join(ROOT, "scripts/pack-sdk.mjs"), "--no-build", "--out", join(work, "pack")],
    {
      cwd: ROOT,
    },
  );
  const tarball = stdout.trim().split("\n").at(-1)!;
  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: app });
  for (const name of LINKED) {
    mkdirSync(dirname(join(app, "node_modules", name)), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", name), join(app, "node_modules", name), "dir");
  }
  mkdirSync(join(app, "examples"));
  for (const f of readdirSync(join(ROOT, "examples")).filter(
    (f) => f.endsWith(".ts") || f === "tsconfig.json",
  ))
    cpSync(join(ROOT, "examples", f), join(app, "examples", f));
  await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "examples"], {
    cwd: app,
  });
}

before(
  async () => {
    work = mkdtempSync(join(tmpdir(), "custody-sdk-e2e-"));
    const started = startTestStack({
      parties: 3,
      roundTimeoutMs: 60_000,
      joinTimeoutMs: 20_000,
      ackWaitMs: 30_000,
    });
    // The examples' ECDSA key is made while the project is prepared (DKLs23 DKG is the slow part);
    // the other examples make their own keys, as they do by default.
    const keyed = started.then((s) => {
      const admin = new CustodyClient(s.apiUrl, s.admin);
      return Promise.all(
        (["ecdsa-secp256k1", "bip340", "ed25519"] as const).map((scheme) =>
          admin.createKeyAndWait({ scheme, threshold: 2, parties: 3 }, { timeoutMs: 170_000 }),
        ),
      );
    });
    const prepared = prepareProject();
    // All settle before any failure is reported, so a stack that started is always stopped.
    const [s, k, p] = await Promise.allSettled([started, keyed, prepared]);
    if (s.status === "fulfilled") stack = s.value;
    if (s.status === "rejected") throw s.reason;
    if (k.status === "rejected") throw k.reason;
    if (p.status === "rejected") throw p.reason;
    [ecdsaKey, bip340Key, ed25519Key] = k.value.map((key) => key.id) as [string, string, string];
    // The admin issues a signer credential for exactly these keys, as `custody credentials issue` does.
    signerProfile = join(work, "signer", "profile.json");
    const issued = spawnSync(
      process.execPath,
      [
        CLI_MAIN,
        "credentials",
        "issue",
        "--role",
        "signer",
        "--keys",
        [ecdsaKey, bip340Key, ed25519Key].join(","),
        "--name",
        "sdk-examples",
        "--out",
        join(work, "signer"),
        "--profile",
        join(stack!.options.dir, "profile.json"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(issued.status, 0, issued.stderr);
  },
  { timeout: 180_000 },
);
after(async () => {
  await stopTestStack(stack);
  if (!process.env.KEEP_E2E) rmSync(work, { recursive: true, force: true });
});

/** Runs one compiled example in the project against the stack; its stdout. */
async function example(name: string, keyId?: string): Promise<string> {
  const { stdout } = await run(process.execPath, [join("examples", "dist", `${name}.js`)], {
    cwd: app,
    env: {
      ...process.env,
      CUSTODY_PROFILE: signerProfile,
      ...(keyId ? { CUSTODY_KEY_ID: keyId } : {}),
    },
  });
  return stdout;
}
const checks = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("ok  "));

test("the packed SDK is one self-contained, public package with typed subpath exports", () => {
  const manifest = JSON.parse(readFileSync(join(app, "node_modules/@custody/sdk/package.json"), "utf8"));
  assert.equal(manifest.private, undefined);
  assert.equal(manifest.scripts, undefined, "no prepack: the staged package packs as it is");
  assert.deepEqual(Object.keys(manifest.exports), [".", "./viem", "./bitcoin", "./solana", "./package.json"]);
  for (const sub of [".", "./viem", "./bitcoin", "./solana"]) assert.ok(manifest.exports[sub].types, sub);
  assert.ok(manifest.bundleDependencies.includes("@custody/credentials"));
  assert.ok(manifest.bundleDependencies.includes("@custody/core"));
  const installed = readdirSync(join(app, "node_modules")).sort();
  assert.deepEqual(
    installed.filter((n) => !LINKED.some((l) => l.split("/")[0] === n)),
    [".package-lock.json", "@custody"],
    "nothing but the SDK came from the install: its dependencies are bundled",
  );
});

test("viem: EIP-1559 and legacy transactions, EIP-191 and EIP-712 signatures verify", {
  timeout: 120_000,
}, async () => {
  const out = await example("viem-eip1559", ecdsaKey);
  assert.match(out, new RegExp(`^key ${ecdsaKey}, account 0x[0-9a-fA-F]{40}$`, "m"));
  assert.equal(checks(out).length, 5, out);
  assert.match(out, /^raw 0x02[0-9a-f]+$/m, "a serialized EIP-1559 transaction");
});

test("bitcoinjs-lib: a P2WPKH spend validates, finalizes and extracts", { timeout: 120_000 }, async () => {
  const out = await example("bitcoin-p2wpkh", ecdsaKey);
  assert.equal(checks(out).length, 2, out);
  assert.match(out, /^txid [0-9a-f]{64}$/m);
});

test("bitcoinjs-lib: a Taproot key-path spend validates, finalizes and extracts", {
  timeout: 120_000,
}, async () => {
  const out = await example("bitcoin-p2tr", bip340Key);
  assert.equal(checks(out).length, 3, out);
  assert.match(out, /address bcrt1p/);
});

test("@solana/web3.js: a transfer signed by the fee payer verifies", { timeout: 120_000 }, async () => {
  const out = await example("solana-transfer", ed25519Key);
  assert.equal(checks(out).length, 1, out);
  assert.match(out, /^wire [A-Za-z0-9+/=]+$/m);
});

test("the client against the real API: typed problems, dead letters, operations", async () => {
  const api = new CustodyClient(stack!.apiUrl, stack!.admin);
  await assert.rejects(api.getKey("key_none"), (e) => isApiProblem(e, "not-found") && e.status === 404);
  await assert.rejects(
    api.sign(ecdsaKey, { message: "00".repeat(31) }),
    (e) => isApiProblem(e, "invalid-request") && e.status === 400,
  );
  await assert.rejects(new CustodyClient(stack!.apiUrl).listKeys(), (e) => isApiProblem(e, "unauthorized"));
  assert.ok(Array.isArray(await api.deadLetters(10)));
  const page = await api.listOperations({ keyId: ecdsaKey, type: "sign" });
  assert.ok(page.operations.length >= 1, "the examples' signatures are listed");
  assert.ok(page.operations.every((o) => o.keyId === ecdsaKey && o.type === "sign"));
});
