/**
 * A deployment made by `custody init`, brought up as separate hosts on this machine: three NATS
 * nodes (a JetStream cluster, R3, mTLS, configs from `custody nats-config`), two API hosts (HTTPS)
 * and three party hosts (KEKs in SoftHSM2 tokens), each in its own network namespace with its own
 * address, every process started from its bundle with `--config`. The operator provisions from an
 * admin namespace, a client there runs DKG, sign and refresh through both API hosts, and the
 * signatures are checked with node:crypto. Then party 1's bundle is used against party 2's bucket,
 * protocol messages and work queue: the broker refuses each.
 *
 * Needs root and `ip netns`; without them it fails, unless CI_ALLOW_NO_NETNS=1 lets it skip.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CLI_MAIN } from "../src/index.js";
import { NetnsLab, netnsAvailable } from "./deploy/netns.js";

const PROBE = fileURLToPath(new URL("./deploy/probe.js", import.meta.url));
const SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so";
const HOSTS = {
  n1: "10.77.0.11",
  n2: "10.77.0.12",
  n3: "10.77.0.13",
  api1: "10.77.0.21",
  api2: "10.77.0.22",
  party1: "10.77.0.31",
  party2: "10.77.0.32",
  party3: "10.77.0.33",
  admin: "10.77.0.100",
};
const NATS = ["n1", "n2", "n3"];
const APIS = ["api1", "api2"];
const PARTIES = ["party1", "party2", "party3"];

const netns = netnsAvailable();
const skip = !netns.ok && process.env.CI_ALLOW_NO_NETNS === "1";

let lab: NetnsLab | undefined;
let dir = "";
let out = "";
const apiUrls: Record<string, string> = {};
const started = Date.now();

/** `custody ...` in a host's namespace; fails the test on a non-zero exit, with {@link diagnosis}. */
async function custody(host: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await lab!.run(host, process.execPath, [CLI_MAIN, ...args], env);
  if (r.code !== 0)
    assert.fail(
      `custody ${args.slice(0, 2).join(" ")} on ${host} exited ${r.code}: ${r.stderr}\n${await diagnosis()}`,
    );
  return r.stdout;
}

/**
 * What a failure needs to explain itself: every process's log tail (warnings and errors first), and
 * each NATS node's view of the work and result consumers (pending, ack pending, redeliveries).
 */
async function diagnosis(): Promise<string> {
  const logs = join(dir, "logs");
  const parts: string[] = [];
  for (const f of existsSync(logs) ? readdirSync(logs).sort() : []) {
    const lines = readFileSync(join(logs, f), "utf8").split("\n").filter(Boolean);
    const notable = lines.filter((l) => /"level":(40|50|60)|\[(WRN|ERR|FTL)\]/.test(l));
    parts.push(
      `--- ${f}: ${lines.length} lines, ${notable.length} warnings/errors; last warnings/errors:`,
      ...notable.slice(-8).map((l) => l.slice(0, 400)),
      "last lines:",
      ...lines.slice(-12).map((l) => l.slice(0, 400)),
    );
  }
  for (const n of NATS) {
    const r = await lab!.run(n, "curl", [
      "-s",
      "-m",
      "3",
      "http://127.0.0.1:8222/jsz?consumers=true&accounts=true",
    ]);
    const consumers: string[] = [];
    try {
      const jsz = JSON.parse(r.stdout) as {
        meta_cluster?: { leader?: string };
        account_details?: {
          stream_detail?: { name: string; consumer_detail?: Record<string, unknown>[] }[];
        }[];
      };
      for (const a of jsz.account_details ?? [])
        for (const st of a.stream_detail ?? [])
          for (const c of st.consumer_detail ?? [])
            if (/^CUSTODY_(REQ|RES)$/.test(st.name))
              consumers.push(
                `${st.name}>${c.name}: pending ${c.num_pending} ack_pending ${c.num_ack_pending} redelivered ${c.num_redelivered} waiting ${c.num_waiting} leader ${(c.cluster as { leader?: string } | undefined)?.leader}`,
              );
      parts.push(`--- ${n} /jsz: meta leader ${jsz.meta_cluster?.leader}`, ...consumers);
    } catch {
      parts.push(`--- ${n} /jsz unreadable: ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 200)}`);
    }
  }
  return parts.join("\n");
}

/** Client-side environment: the deployment's CA for HTTPS. */
const clientEnv = () => ({ NODE_EXTRA_CA_CERTS: join(out, "operator", "pki", "ca.pem") });

before(async () => {
  if (!netns.ok) return;
  dir = mkdtempSync(join(tmpdir(), "custody-deploy-"));
  out = join(dir, "deployment");
  // The NATS nodes and API hosts keep init's default names (<host>.custody.internal), resolved by
  // each namespace's hosts file: the NATS client checks a server's certificate by that name.
  execFileSync(process.execPath, [CLI_MAIN, "init", "--out", out], { stdio: "pipe" });

  // Each party host's token (SoftHSM2 in its own config directory), its PIN and its KEK in it.
  const hsm = join(dir, "softhsm");
  mkdirSync(join(hsm, "tokens"), { recursive: true });
  writeFileSync(
    join(hsm, "softhsm2.conf"),
    `directories.tokendir = ${join(hsm, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  const hsmEnv = { ...process.env, SOFTHSM2_CONF: join(hsm, "softhsm2.conf") };
  for (const [i, p] of PARTIES.entries()) {
    const pin = `pin-${p}-${i}`;
    writeFileSync(join(hsm, `${p}.pin`), `${pin}\n`, { mode: 0o600 });
    execFileSync(
      "softhsm2-util",
      ["--init-token", "--free", "--label", `custody-${p}`, "--pin", pin, "--so-pin", "so-pin-0"],
      { env: hsmEnv, stdio: "ignore" },
    );
    execFileSync(
      process.execPath,
      [
        CLI_MAIN,
        "kek",
        "init",
        "--kek-pkcs11-module",
        SOFTHSM,
        "--kek-token",
        `custody-${p}`,
        "--kek-pin-file",
        join(hsm, `${p}.pin`),
        "--kek-label",
        "custody-kek",
      ],
      { env: hsmEnv, stdio: "pipe" },
    );
  }

  lab = NetnsLab.create(
    HOSTS,
    Object.fromEntries(
      [...NATS, ...APIS].map((h) => [`${h}.custody.internal`, HOSTS[h as keyof typeof HOSTS]]),
    ),
  );
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const state = (host: string) => {
    const d = join(dir, "state", host);
    mkdirSync(d, { recursive: true });
    return d;
  };
  // NATS nodes: the config rendered on the host from its bundle; its state directories from the environment.
  await Promise.all(
    NATS.map(async (n) => {
      const conf = join(state(n), "nats-server.conf");
      await custody(n, ["nats-config", "--config", join(out, n, "nats.json"), "--out", conf], {
        CUSTODY_NATS_CONFIG_STORE_DIR: join(state(n), "jetstream"),
        CUSTODY_NATS_CONFIG_RESOLVER_DIR: join(state(n), "jwt"),
        CUSTODY_NATS_CONFIG_LOG_FILE: join(logs, `${n}.log`),
      });
      lab!.spawn(n, "nats-server", ["-c", conf], {}, join(logs, `${n}.out`));
    }),
  );
  const provisioned = await custody("admin", [
    "provision",
    "--config",
    join(out, "operator", "provision.json"),
  ]);
  assert.match(provisioned, /tenant default: provisioned \(R3, parties 1,2,3\)/);

  for (const a of APIS) {
    const child = lab.spawn(
      a,
      process.execPath,
      [CLI_MAIN, "api", "--config", join(out, a, "api.json"), "--print-url"],
      {},
      join(logs, `${a}.log`),
    );
    apiUrls[a] = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = /CUSTODY_API_URL=(\S+)/.exec(buf);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`${a} exited with ${code}: see ${logs}`)));
    });
  }
  for (const p of PARTIES)
    lab.spawn(
      p,
      process.execPath,
      [CLI_MAIN, "worker", "--config", join(out, p, "worker.json")],
      {
        SOFTHSM2_CONF: join(hsm, "softhsm2.conf"),
        CUSTODY_WORKER_KEK_PIN_FILE: join(hsm, `${p}.pin`),
        CUSTODY_WORKER_LEDGER: join(state(p), "w1.ledger"),
      },
      join(logs, `${p}.log`),
    );
  for (const a of APIS) {
    const r = await lab.run(
      "admin",
      process.execPath,
      [PROBE, "ready", `https://${a}.custody.internal:8443`, "3"],
      clientEnv(),
    );
    assert.equal(r.code, 0, `${a} ready: ${r.stderr} (logs in ${logs}; KEEP_DEPLOY=1 keeps them)`);
  }
  console.log(`deployment up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

after(async () => {
  console.log(`deployment test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await lab?.destroy();
  if (dir && process.env.KEEP_DEPLOY !== "1") rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`kept ${dir}`);
});

const ed25519Verify = (publicKeyHex: string, message: Buffer, signatureHex: string) =>
  verify(
    null,
    message,
    createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKeyHex, "hex").toString("base64url") },
      format: "jwk",
    }),
    Buffer.from(signatureHex, "hex"),
  );

if (skip) {
  test("deployment across network namespaces", { skip: `CI_ALLOW_NO_NETNS=1 and ${netns.why}` }, () => {});
} else if (!netns.ok) {
  test("the deployment test needs network namespaces", () => {
    assert.fail(`it runs as root with ip netns (${netns.why}); CI_ALLOW_NO_NETNS=1 skips it`);
  });
} else {
  test("DKG, sign and refresh across the hosts, through both API hosts over HTTPS", async () => {
    for (const a of APIS) assert.equal(new URL(apiUrls[a]!).protocol, "https:", `${a} serves HTTPS`);
    for (const p of PARTIES)
      assert.ok(!existsSync(join(out, p, "kek.key")), `${p}'s KEK is in its token only`);
    const api = (a: string) => [
      "--api",
      `https://${a}.custody.internal:8443`,
      "--seed",
      join(out, "operator", "client", "admin.nk"),
      "--credential",
      join(out, "operator", "client", "admin.cred"),
      "--json",
    ];
    const key = JSON.parse(
      await custody(
        "admin",
        ["keys", "create", "--scheme", "ed25519", "--threshold", "2", "--parties", "3", ...api("api1")],
        clientEnv(),
      ),
    ) as { id: string; publicKey: string; epoch: number };
    const message = Buffer.from("deployed across hosts");
    const sign = async (a: string) =>
      JSON.parse(
        await custody(
          "admin",
          ["sign", "--key", key.id, "--message", message.toString("hex"), ...api(a)],
          clientEnv(),
        ),
      ) as { signature: string; publicKey: string; epoch: number };
    const first = await sign("api2");
    assert.equal(first.publicKey, key.publicKey);
    assert.ok(ed25519Verify(key.publicKey, message, first.signature), "signature verifies (node:crypto)");
    assert.ok(
      !ed25519Verify(key.publicKey, Buffer.from("another message"), first.signature),
      "and only for its message",
    );
    const refreshed = JSON.parse(
      await custody("admin", ["keys", "refresh", key.id, ...api("api1")], clientEnv()),
    ) as { publicKey: string; epoch: number };
    assert.equal(refreshed.publicKey, key.publicKey, "refresh keeps the public key");
    assert.equal(refreshed.epoch, key.epoch + 1);
    const second = await sign("api2");
    assert.equal(second.epoch, key.epoch + 1, "signed with the refreshed shares");
    assert.ok(ed25519Verify(key.publicKey, message, second.signature), "refreshed signature verifies");
  });

  test("every worker's ready line names its KEK kind: pkcs11, with no file-KEK warning", () => {
    for (const p of PARTIES) {
      const records = readFileSync(join(dir, "logs", `${p}.log`), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { msg?: string; kek?: string });
      assert.equal(records.find((r) => r.msg === "worker ready")?.kek, "pkcs11", p);
      assert.ok(!records.some((r) => r.kek === "file (insecure)"), `${p} logs no file KEK`);
    }
  });

  test("party 1's bundle cannot reach party 2's bucket, messages or work queue", async () => {
    const r = await lab!.run("party1", process.execPath, [PROBE, "cross-party", join(out, "party1"), "2"]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { party: number; own: string; attempts: Record<string, string> };
    assert.equal(result.party, 1);
    assert.equal(result.own, "allowed", "party 1 reads its own bucket with the same connection");
    for (const [attempt, outcome] of Object.entries(result.attempts))
      assert.match(outcome, /permissions? violation/i, `${attempt} is refused by the broker`);
  });
}
