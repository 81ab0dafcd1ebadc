/**
 * `custody init`'s bundles (every secret in exactly the bundle of its host, none of the operator's
 * in any host bundle), `custody nats-config`, and the settings of the configurable commands: flag >
 * environment > config file > default, typed errors, and the table in docs/operations.md.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { fromSeed } from "@nats-io/nkeys";
import { ConfigError, Settings, settingsTable } from "../src/commands/config.js";
import { renderNatsConfig } from "../src/commands/nats-config.js";
import { CLI_MAIN } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "custody-init-"));
const out = join(dir, "deployment");
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
/** The CLI in a shell with umask 000. */
const umask0 = (args: string[]) =>
  spawnSync("sh", ["-c", 'umask 000 && exec "$0" "$@"', process.execPath, CLI_MAIN, ...args], {
    encoding: "utf8",
  });

before(() => {
  // Under umask 000: every mode below is init's own, none the umask's.
  const r = umask0([
    "init",
    "--out",
    out,
    "--nats-nodes",
    "3",
    "--parties",
    "3",
    "--api-hosts",
    "2",
    "--nats-host",
    "n1=nats-a.example.internal",
    "--api-host",
    "api2=10.9.8.7",
    "--insecure-file-kek",
  ]);
  assert.equal(r.status, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under `root`, by path relative to it. */
function files(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(root, f)).isFile())
    .sort();
}

const SEED = /\bS[OAU][A-Z2-7]{56}\b/g;
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/g;

/**
 * The secrets in a file: NKey seeds, PEM private keys, and the whole content of a file only its
 * owner may read (identity keys, KEKs, webhook keys, creds).
 */
function secretsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = [...(text.match(SEED) ?? []), ...(text.match(PEM_KEY) ?? [])];
  if ((statSync(file).mode & 0o077) === 0) found.push(text.trim());
  return found;
}

test("init writes the operator's material and one bundle per host", () => {
  assert.deepEqual(readdirSync(out).sort(), [
    "api1",
    "api2",
    "n1",
    "n2",
    "n3",
    "operator",
    "party1",
    "party2",
    "party3",
  ]);
  const readme = readFileSync(join(out, "operator", "README.txt"), "utf8");
  assert.match(readme, /^OFFLINE MATERIAL/);
});

test("every secret is in exactly one bundle, and the operator's seeds in none of the hosts'", () => {
  const owners = new Map<string, Set<string>>();
  for (const f of files(out)) {
    const bundle = f.split("/")[0]!;
    for (const secret of secretsOf(join(out, f)))
      owners.set(secret, (owners.get(secret) ?? new Set()).add(bundle));
  }
  // The walk found the secrets it must: each host's own, and the operator's.
  const kinds = { nats: 0, api: 0, party: 0, operator: 0 };
  for (const [secret, where] of owners) {
    assert.equal(where.size, 1, `a secret (${secret.slice(0, 12)}…) is in ${[...where].join(", ")}`);
    const bundle = [...where][0]!;
    const kind = bundle === "operator" ? "operator" : (bundle.match(/^(n|api|party)/)?.[1] as string);
    kinds[kind === "n" ? "nats" : (kind as keyof typeof kinds)]++;
  }
  assert.ok(
    kinds.nats >= 3 && kinds.api >= 2 * 4 && kinds.party >= 3 * 4 && kinds.operator >= 8,
    JSON.stringify(kinds),
  );
  // The operator's signing seeds and the CA key are where the walk saw them: in operator/ only.
  const opSecrets = [
    "trust/operator.nk",
    "trust/system.nk",
    "trust/control.nk",
    "trust/accounts/default.nk",
    "secrets/authority.seed",
    "pki/ca.key",
  ];
  for (const f of opSecrets) {
    const secret = secretsOf(join(out, "operator", f))[0]!;
    assert.deepEqual([...owners.get(secret)!], ["operator"], `operator/${f} is in no host bundle`);
  }
  for (const host of ["n1", "api1", "party1"])
    for (const f of files(join(out, host)))
      assert.ok(!/(operator|system|control|authority|ca)\.(nk|seed|key)$/.test(f), `${host}/${f}`);
});

test("under umask 000, public files are 0644 and every other file 0600, every directory 0700", () => {
  const PUBLIC =
    /(^|\/)(authority\.pub|parties\.json|(api|worker|nats|accounts|deployment|identities|provision)\.json|operator\.jwt|README\.txt|[a-z-]+\.pem|[a-z-]+\.srl)$/;
  const modes = new Map(files(out).map((f) => [f, statSync(join(out, f)).mode & 0o777]));
  for (const [f, mode] of modes)
    assert.equal(mode, PUBLIC.test(f) ? 0o644 : 0o600, `${f} is ${mode.toString(8)}`);
  // The walk covered both kinds in every bundle.
  for (const b of ["operator", "n1", "api1", "party1"]) {
    const own = [...modes].filter(([f]) => f.startsWith(`${b}/`));
    assert.ok(own.some(([, m]) => m === 0o644) && own.some(([, m]) => m === 0o600), b);
  }
  for (const d of readdirSync(out, { recursive: true, encoding: "utf8" }).filter((f) =>
    statSync(join(out, f)).isDirectory(),
  ))
    assert.equal(statSync(join(out, d)).mode & 0o777, 0o700, d);
});

test("only NATS node bundles hold route certificates, from a route CA no client certificate chains to", () => {
  const routeFiles = files(out).filter((f) => /route/.test(f));
  assert.deepEqual(
    [...new Set(routeFiles.map((f) => f.split("/")[0]))].sort(),
    ["n1", "n2", "n3", "operator"],
    routeFiles.join(", "),
  );
  const verify = (ca: string, cert: string) =>
    spawnSync("openssl", ["verify", "-CAfile", join(out, ca), join(out, cert)], { encoding: "utf8" }).status;
  assert.equal(verify("n1/tls/route-ca.pem", "n2/tls/route.pem"), 0, "a node's route certificate verifies");
  for (const cert of [
    "party1/tls/client.pem",
    "api1/tls/client.pem",
    "api1/tls/https.pem",
    "n1/tls/server.pem",
  ])
    assert.notEqual(verify("n1/tls/route-ca.pem", cert), 0, `${cert} does not chain to the route CA`);
  assert.notEqual(
    verify("n1/tls/ca.pem", "n1/tls/route.pem"),
    0,
    "a route certificate is no client certificate",
  );
  const eku = (file: string) =>
    execFileSync("openssl", ["x509", "-in", join(out, file), "-noout", "-ext", "extendedKeyUsage"], {
      encoding: "utf8",
    });
  assert.doesNotMatch(eku("api1/tls/https.pem"), /Client/, "the API's HTTPS certificate is serverAuth only");
  assert.doesNotMatch(
    eku("n1/tls/server.pem"),
    /Client/,
    "a node's client-port certificate is serverAuth only",
  );
  assert.match(eku("n1/tls/route.pem"), /TLS Web Server Authentication, TLS Web Client Authentication/);
});

test("nats-config routes with the route CA and refuses routes without one, or with the client CA", () => {
  const conf = cli(["nats-config", "--config", join(out, "n1", "nats.json")]);
  assert.equal(conf.status, 0, conf.stderr);
  const cluster = conf.stdout.slice(conf.stdout.indexOf("cluster: {"));
  assert.match(cluster, new RegExp(`ca_file: "${join(out, "n1", "tls", "route-ca.pem")}"`));
  assert.match(cluster, new RegExp(`cert_file: "${join(out, "n1", "tls", "route.pem")}"`));
  assert.doesNotMatch(cluster, /tls\/ca\.pem/);
  assert.match(cluster, /advertise: "nats-a\.example\.internal:6222"/);
  assert.match(conf.stdout, /client_advertise: "nats-a\.example\.internal:4222"/);
  const same = cli([
    "nats-config",
    "--config",
    join(out, "n1", "nats.json"),
    "--route-ca",
    join(out, "n1", "tls", "ca.pem"),
  ]);
  assert.equal(same.status, 1);
  assert.match(same.stderr, /route-ca is tls-ca/);
  const withoutRouteCa = Settings.resolve(
    "nats-config",
    {
      serverName: "x",
      routes: ["nats-route://a:6222"],
      tlsCa: join(out, "n1", "tls", "ca.pem"),
      tlsCert: join(out, "n1", "tls", "server.pem"),
      tlsKey: join(out, "n1", "tls", "server.key"),
      operatorJwt: join(out, "n1", "operator.jwt"),
      accounts: join(out, "n1", "accounts.json"),
    },
    {},
  );
  assert.throws(
    () => renderNatsConfig(withoutRouteCa),
    (e: unknown) => e instanceof ConfigError && e.code === "missing-setting" && /route-ca/.test(e.message),
  );
});

test("each host's creds are its own identity's, and each party holds only its own identity key", () => {
  const identities = JSON.parse(readFileSync(join(out, "operator", "identities.json"), "utf8")) as {
    name: string;
    publicKey: string;
  }[];
  const seedPublicKey = (file: string) =>
    fromSeed(new TextEncoder().encode(readFileSync(file, "utf8").match(SEED)![0])).getPublicKey();
  for (const [host, creds, name] of [
    ["api1", "api.creds", "api1"],
    ["api2", "api.creds", "api2"],
    ["party1", "worker.creds", "party1-w1"],
    ["party3", "worker.creds", "party3-w1"],
  ] as const)
    assert.equal(
      seedPublicKey(join(out, host, creds)),
      identities.find((i) => i.name === name)?.publicKey,
      host,
    );
  for (const p of [1, 2, 3]) {
    const identity = JSON.parse(readFileSync(join(out, `party${p}`, "identity.json"), "utf8")) as {
      party: number;
    };
    assert.equal(identity.party, p);
    assert.ok(files(join(out, `party${p}`)).includes("kek.key"), "--insecure-file-kek: a KEK file per party");
  }
  for (const f of files(join(out, "api1"))) assert.ok(!/identity|kek/.test(f), `api1/${f}`);
});

test("certificates name the hosts' addresses; the NATS nodes route to each other", () => {
  const sanOf = (file: string) =>
    execFileSync("openssl", ["x509", "-in", file, "-noout", "-ext", "subjectAltName"], { encoding: "utf8" });
  assert.match(sanOf(join(out, "n1", "tls", "server.pem")), /DNS:nats-a\.example\.internal/);
  assert.match(sanOf(join(out, "n2", "tls", "server.pem")), /DNS:n2\.custody\.internal/);
  assert.match(sanOf(join(out, "api2", "tls", "https.pem")), /IP Address:10\.9\.8\.7/);
  const verified = execFileSync(
    "openssl",
    ["verify", "-CAfile", join(out, "party2", "tls", "ca.pem"), join(out, "party2", "tls", "client.pem")],
    { encoding: "utf8" },
  );
  assert.match(verified, /OK/);
  const conf = cli(["nats-config", "--config", join(out, "n2", "nats.json")], {
    CUSTODY_NATS_CONFIG_STORE_DIR: "/srv/js",
  });
  assert.equal(conf.status, 0, conf.stderr);
  assert.match(conf.stdout, /server_name: "n2"/);
  assert.match(
    conf.stdout,
    /"nats-route:\/\/nats-a\.example\.internal:6222",\n\s+"nats-route:\/\/n3\.custody\.internal:6222"/,
  );
  assert.match(conf.stdout, /store_dir: "\/srv\/js"/, "the environment beats the bundle's default");
  assert.match(conf.stdout, /resolver: \{\n\s+type: "full"/);
  assert.match(conf.stdout, new RegExp(`ca_file: "${join(out, "n2", "tls", "ca.pem")}"\\n\\s+verify: true`));
  const file = join(dir, "n2.conf");
  assert.equal(cli(["nats-config", "--config", join(out, "n2", "nats.json"), "--out", file]).status, 0);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test("init refuses a directory in use and a bad address, with a message and no stack trace", () => {
  const again = cli(["init", "--out", out]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /not empty/);
  const bad = cli(["init", "--out", join(dir, "x"), "--nats-host", "n1=not an address"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /not an IP address or DNS name/);
  assert.doesNotMatch(bad.stderr + again.stderr, /\n\s+at /);
});

test("init refuses a zone id and an --out that is a file, and keeps nothing of a failed run", () => {
  const zone = cli([
    "init",
    "--out",
    join(dir, "z"),
    "--nats-host",
    "n1=fe80::1%eth0",
    "--insecure-file-kek",
  ]);
  assert.equal(zone.status, 1);
  assert.match(zone.stderr, /^error: not an IP address or DNS name: fe80::1%eth0\n$/);
  assert.ok(!existsSync(join(dir, "z")), "nothing written");
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  const notDir = cli(["init", "--out", file, "--insecure-file-kek"]);
  assert.equal(notDir.status, 1);
  assert.match(notDir.stderr, /^error: .*a-file exists and is not a directory\n$/);
  // A step failing halfway (openssl missing from PATH): a typed error, and the directory is gone.
  const half = spawnSync(
    process.execPath,
    [CLI_MAIN, "init", "--out", join(dir, "h"), "--insecure-file-kek"],
    {
      encoding: "utf8",
      env: { ...process.env, PATH: "/nonexistent" },
    },
  );
  assert.equal(half.status, 1);
  assert.match(half.stderr, /^error: init failed, nothing kept: /);
  assert.doesNotMatch(half.stderr, /\n\s+at /);
  assert.ok(!existsSync(join(dir, "h")), "the half-made deployment (its operator seeds) is removed");
});

test("a setting comes from the flag, else the environment, else the config file, else the default", () => {
  const file = join(dir, "w.json");
  writeFileSync(
    file,
    JSON.stringify({
      party: 2,
      "worker-id": "w9",
      nats: ["nats://a:4222", "nats://b:4222"],
      creds: "c.creds",
      ledger: "l",
      identity: "i",
      directory: "d",
      authority: "a",
      slots: 7,
      "heartbeat-ms": 500,
    }),
  );
  const s = Settings.resolve(
    "worker",
    { config: file, slots: "9" },
    { CUSTODY_WORKER_SLOTS: "8", CUSTODY_WORKER_HEARTBEAT_MS: "600", CUSTODY_WORKER_PARTY: "" },
    "/cwd",
  );
  assert.equal(s.int("slots"), 9, "flag over environment and file");
  assert.equal(s.int("heartbeat-ms"), 600, "environment over file");
  assert.equal(s.int("party"), 2, "file (an empty variable is unset)");
  assert.equal(s.int("round-timeout-ms"), 30000, "default");
  assert.deepEqual(s.list("nats"), ["nats://a:4222", "nats://b:4222"]);
  assert.equal(s.str("creds"), join(dir, "c.creds"), "a relative path in the file is relative to the file");
  const e = Settings.resolve("worker", { config: file, creds: "x.creds" }, {}, "/cwd");
  assert.equal(e.str("creds"), "/cwd/x.creds", "a flag's relative path is relative to the working directory");
});

test("unknown keys, bad values, missing or malformed files and missing settings are typed errors", () => {
  const code = (c: string) => (e: unknown) => e instanceof ConfigError && e.code === c;
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  assert.throws(
    () => Settings.resolve("api", { config: file("u.json", '{"nats":"n","credz":"x"}') }, {}),
    code("unknown-key"),
  );
  assert.throws(
    () => Settings.resolve("api", { config: file("v.json", '{"port":"eighty"}') }, {}),
    code("bad-value"),
  );
  assert.throws(
    () => Settings.resolve("api", { config: file("b.json", '{"print-url":"maybe"}') }, {}),
    code("bad-value"),
  );
  assert.throws(() => Settings.resolve("api", {}, { CUSTODY_API_PORT: "-1" }), code("bad-value"));
  assert.throws(() => Settings.resolve("api", { config: join(dir, "none.json") }, {}), code("missing-file"));
  assert.throws(
    () => Settings.resolve("api", {}, { CUSTODY_API_CONFIG: join(dir, "none.json") }),
    code("missing-file"),
  );
  assert.throws(() => Settings.resolve("api", { config: file("j.json", "{nats: 1") }, {}), code("bad-file"));
  // A file given by mistake (a PIN file, a seed): the error names where parsing stopped, never its text.
  const pin = file("pin", "s3cr3t-PIN-value\n");
  assert.throws(
    () => Settings.resolve("worker", { config: pin }, {}),
    (e: unknown) => e instanceof ConfigError && e.code === "bad-file" && !e.message.includes("s3cr3t"),
  );
  const seedLike = file("seed.json", '{"party": 1,\n "x": SUAB3CD}');
  assert.throws(
    () => Settings.resolve("worker", { config: seedLike }, {}),
    (e: unknown) => e instanceof ConfigError && e.code === "bad-file" && !e.message.includes("SUAB"),
  );
  assert.throws(
    () => Settings.resolve("worker", { config: file("p.json", '{"party": 1,\n "x" 2}') }, {}),
    (e: unknown) => e instanceof ConfigError && /p\.json is not JSON \(line 2, column 6\)$/.test(e.message),
  );
  const leaked = cli(["worker", "--config", pin]);
  assert.equal(leaked.status, 1);
  assert.match(leaked.stderr, /is not JSON/);
  assert.doesNotMatch(leaked.stderr, /s3cr3t/);
  assert.throws(() => Settings.resolve("api", { config: file("a.json", "[]") }, {}), code("bad-file"));
  assert.throws(() => Settings.resolve("api", { nats: ["n"], creds: "c" }, {}), code("missing-setting"));
  assert.ok(Settings.resolve("api", { nats: ["n"], creds: "c", authority: "a" }, {}));
  // From the command line: one line on stderr, exit 1.
  const r = cli(["worker", "--config", file("u2.json", '{"kek-lable":"x"}')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*"kek-lable" is no setting of custody worker\n$/);
});

test("docs/operations.md carries the settings table of the code", () => {
  const docs = readFileSync(
    fileURLToPath(new URL("../../../../docs/operations.md", import.meta.url)),
    "utf8",
  );
  const m = /<!-- settings:begin -->\n([\s\S]*?)<!-- settings:end -->/.exec(docs);
  assert.ok(m, "docs/operations.md has the settings markers");
  assert.equal(
    m[1],
    settingsTable(),
    "regenerate the table from settingsTable() in apps/cli/src/commands/config.ts",
  );
});
