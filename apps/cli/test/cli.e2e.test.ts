/**
 * The `custody` command as a newcomer uses it: an Idempotency-Key per invocation that a rerun can
 * resume, operations looked up again, messages as `0x` hex, from a file or stdin, and errors as
 * JSON under --json.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CLI_MAIN, type Stack } from "../src/index.js";
import { startTestStack, stopTestStack, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
const TIMEOUT = { timeout: 180_000 };

before(async () => {
  stack = await startTestStack({ parties: 3 });
}, TIMEOUT);
after(() => stopTestStack(stack));

const custody = (args: string[], input?: Buffer) => {
  const r = spawnSync(
    process.execPath,
    [CLI_MAIN, ...args, "--profile", join(stack!.options.dir, "profile.json")],
    {
      encoding: "utf8",
      input,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const json = (args: string[], input?: Buffer) => {
  const r = custody([...args, "--json"], input);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

test(
  "a rerun with the printed Idempotency-Key resumes the same key creation; operations show it again",
  TIMEOUT,
  () => {
    const first = custody([
      "keys",
      "create",
      "--scheme",
      "ed25519",
      "--threshold",
      "2",
      "--parties",
      "3",
      "--json",
    ]);
    assert.equal(first.status, 0, first.stderr);
    const key = JSON.parse(first.stdout) as { id: string; publicKey: string };
    const printed = /idempotency key (cli-[0-9a-f]{24})/.exec(first.stderr)?.[1];
    assert.ok(printed, `the key is printed: ${first.stderr}`);
    const again = json([
      "keys",
      "create",
      "--scheme",
      "ed25519",
      "--threshold",
      "2",
      "--parties",
      "3",
      "--idempotency-key",
      printed,
    ]);
    assert.equal(again.id, key.id, "the rerun resumed the first DKG instead of starting a second");
    const other = json(["keys", "create", "--scheme", "ed25519", "--threshold", "2", "--parties", "3"]);
    assert.notEqual(other.id, key.id, "each invocation without --idempotency-key is its own operation");

    // Messages: 0x hex, a file, stdin; the same bytes each time.
    const message = Buffer.from("hello custody");
    const file = join(stack!.options.dir, "message.bin");
    writeFileSync(file, message);
    const sigs = [
      json(["sign", "--key", key.id, "--message", `0x${message.toString("hex")}`]),
      json(["sign", "--key", key.id, "--message-file", file]),
      json(["sign", "--key", key.id, "--message-file", "-"], message),
    ];
    for (const s of sigs) assert.ok(verifyEd25519(key.publicKey, message, s.signature as string));

    // An operation looked up again by id.
    const signed = custody(["sign", "--key", key.id, "--message", "00ff", "--json"]);
    const opKey = /idempotency key (cli-[0-9a-f]{24})/.exec(signed.stderr)?.[1] ?? "";
    const resumed = custody([
      "sign",
      "--key",
      key.id,
      "--message",
      "00ff",
      "--idempotency-key",
      opKey,
      "--json",
    ]);
    assert.equal(JSON.parse(resumed.stdout).signature, JSON.parse(signed.stdout).signature);
  },
);

test("operations show and wait print the operation; errors under --json are one JSON object", TIMEOUT, () => {
  const created = custody([
    "keys",
    "create",
    "--scheme",
    "bip340",
    "--threshold",
    "2",
    "--parties",
    "3",
    "--json",
  ]);
  assert.equal(created.status, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { id: string };
  const opId = /operation (op_[0-9a-f]{32})/.exec(created.stderr)?.[1] ?? "";
  const shown = json(["operations", "show", opId]);
  assert.deepEqual([shown.id, shown.type, shown.keyId, shown.status], [opId, "dkg", key.id, "succeeded"]);
  const waited = custody(["operations", "wait", opId]);
  assert.equal(waited.status, 0, waited.stderr);
  assert.match(waited.stdout, new RegExp(`operation ${opId}: dkg of key ${key.id}, succeeded`));
  // The profile can also come from $CUSTODY_PROFILE (e.g. for a stack started with `dev --dir`).
  const viaEnv = spawnSync(process.execPath, [CLI_MAIN, "keys", "show", key.id, "--json"], {
    encoding: "utf8",
    cwd: stack!.options.dir,
    env: { ...process.env, CUSTODY_PROFILE: join(stack!.options.dir, "profile.json") },
  });
  assert.equal(viaEnv.status, 0, viaEnv.stderr);
  assert.equal(JSON.parse(viaEnv.stdout).id, key.id);
  const missing = custody(["operations", "show", "op_doesnotexist", "--json"]);
  assert.equal(missing.status, 1);
  const err = JSON.parse(missing.stderr) as { status: number; type: string };
  assert.equal(err.status, 404);
  assert.equal(err.type, "urn:custody:problem:not-found");
  const bad = custody(["sign", "--key", key.id, "--json"]);
  assert.equal(bad.status, 1);
  assert.match((JSON.parse(bad.stderr) as { error: string }).error, /--message/);
});

test(
  "operations list pages the tenant's operations; request-headers signs one request for curl",
  TIMEOUT,
  async () => {
    const page = json(["operations", "list", "--type", "dkg", "--limit", "1"]) as {
      operations: { id: string; type: string }[];
      next?: string;
    };
    assert.equal(page.operations.length, 1);
    assert.equal(page.operations[0]!.type, "dkg");
    assert.ok(page.next, "the earlier tests created more than one key");
    const second = json(["operations", "list", "--type", "dkg", "--limit", "1", "--cursor", page.next!]) as {
      operations: { id: string }[];
    };
    assert.notEqual(second.operations[0]!.id, page.operations[0]!.id);
    const text = custody(["operations", "list", "--limit", "1"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^\S+ {2}op_[0-9a-f]{32} {2}\w+ +\w+ +key \S+/);
    assert.match(text.stdout, /more: custody operations list --cursor \S+/);
    // Headers printed by request-headers authenticate exactly one request.
    const signed = json(["request-headers", "GET", "/v1/keys"]) as {
      url: string;
      headers: Record<string, string>;
    };
    const ok = await fetch(signed.url, { headers: signed.headers });
    assert.equal(ok.status, 200);
    const again = await fetch(signed.url, { headers: signed.headers });
    assert.equal(again.status, 401);
    assert.equal(((await again.json()) as { reason: string }).reason, "replayed");
    const body = join(stack!.options.dir, "body.json");
    writeFileSync(body, JSON.stringify({ scheme: "rsa", threshold: 2, parties: 3 }));
    const post = json(["request-headers", "post", "/v1/keys", "--body", body]) as {
      url: string;
      headers: Record<string, string>;
    };
    const refused = await fetch(post.url, {
      method: "POST",
      headers: { ...post.headers, "content-type": "application/json" },
      body: JSON.stringify({ scheme: "rsa", threshold: 2, parties: 3 }),
    });
    assert.equal(refused.status, 400, "authenticated, then refused for its content");
    const curl = custody(["request-headers", "GET", "/v1/keys"]);
    assert.match(curl.stdout, /^# GET http:\/\/\S+\/v1\/keys\n-H 'custody-credential: \S+'/);
  },
);
