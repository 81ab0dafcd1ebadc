/**
 * Zero trust at the API, at the broker and at the parties: unsigned, badly signed, stale and
 * replayed requests are refused; roles, key grants and tenants are enforced; each tenant's data
 * plane lives in its own NATS account, so even identical subjects and bucket names do not meet; and
 * a work item that no client signed (as a compromised API would publish) is refused by every party.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { operationIdOf } from "@custody/core";
import {
  type CredentialClaims,
  createAuthority,
  createClientKey,
  issueCredential,
  signRequest,
} from "@custody/credentials";
import { createDevPki, newUser } from "@custody/natsd";
import {
  AUDIT_STREAM,
  auditSubject,
  ClientRequestSchema,
  create,
  fromBinary,
  RESULT_STREAM,
  requestSubject,
  resultSubject,
  SignWorkSchema,
  toBinary,
  WorkItemSchema,
  WorkResultSchema,
} from "@custody/proto";
import { type AuditRecord, connectNats, publicKeyOf, readCreds, TenantRegistry } from "@custody/runtime";
import { ApiProblem, CustodyClient } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createAccount } from "@nats-io/nkeys";
import { connect, errors, jwtAuthenticator } from "@nats-io/transport-node";
import { authoritySeedPath } from "../src/dev-authority.js";
import { CLI_MAIN, issueClient, type LoadedClient, loadClient, type Stack } from "../src/index.js";
import { adminConnection, apiConnection } from "./broker.js";
import { eventually, startTestStack, stopTestStack, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
let admin: CustodyClient;
let keyA: string;
let keyB: string;

/** Bounds of the setup and of each test, so a hang fails this file instead of stalling the run. */
const HOOK_TIMEOUT = { timeout: 180_000 };
const TEST_TIMEOUT = { timeout: 180_000 };

/** Matches an SDK error carrying exactly this HTTP status and problem type. */
const problem =
  (status: number, code: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ApiProblem, `an API problem, not ${String(e)}`);
    assert.equal(e.status, status, e.message);
    assert.equal(e.type, `urn:custody:problem:${code}`, e.message);
    return true;
  };

/** Matches the broker's refusal of a connection's credentials. */
const authorizationViolation = (e: unknown): boolean => {
  assert.ok(e instanceof errors.AuthorizationError, `an authorization violation, not ${String(e)}`);
  return true;
};

/** Occurrences of `text` in the logs of the stack's nats-servers. */
const brokerLogged = (text: string) =>
  stack!.broker.servers.reduce((n, s) => n + s.logTail(1_000_000).split(text).length - 1, 0);

/**
 * Runs a connection attempt that must fail in the TLS handshake, and waits until a nats-server logs
 * a handshake error naming `why` (the client only sees the connection reset).
 */
async function refusedTls(attempt: () => Promise<void>, why: string): Promise<void> {
  const line = `TLS handshake error: tls: ${why}`;
  const before = brokerLogged(line);
  await assert.rejects(attempt());
  await eventually(() => brokerLogged(line) > before, 5000, `the broker to log "${line}"`);
}

before(async () => {
  stack = await startTestStack({ parties: 3 });
  admin = new CustodyClient(stack.apiUrl, stack.admin);
  for (const slot of ["a", "b"]) {
    const op = await admin.wait(
      await admin.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }),
      60_000,
    );
    assert.equal(op.status, "succeeded");
    if (slot === "a") keyA = op.keyId;
    else keyB = op.keyId;
  }
}, HOOK_TIMEOUT);
after(() => stopTestStack(stack), HOOK_TIMEOUT);

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8" });

/** Enrols a tenant with `custody tenants create`; returns its admin's credential files. */
function createTenant(name: string): { seedFile: string; credentialFile: string; account: string } {
  const created = cli(
    "tenants",
    "create",
    name,
    "--profile",
    join(stack!.options.dir, "profile.json"),
    "--json",
  );
  assert.equal(created.status, 0, created.stderr);
  return JSON.parse(created.stdout) as { seedFile: string; credentialFile: string; account: string };
}

/** Control-account connection of the operator (registry, audit trail). */
const controlConnection = () =>
  connectNats({
    servers: stack!.natsUrls,
    credentials: readCreds(stack!.operator.controlCreds),
    tls: stack!.pki.client("admin"),
    name: "operator-control",
  });

function client(
  name: string,
  claims: { role: "admin" | "signer" | "auditor"; tenant?: string; keys?: string[] },
): LoadedClient {
  const dir = stack!.options.dir;
  return issueClient(
    dir,
    {
      seedFile: join(dir, "creds", `client-${name}.nk`),
      credentialFile: join(dir, "creds", `client-${name}.cred`),
    },
    { name, role: claims.role, tenant: claims.tenant ?? "default", keys: claims.keys },
  );
}

async function send(method: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${stack!.apiUrl}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { type: string; reason?: string } };
}

const signed = (who: LoadedClient, method: string, path: string, body?: unknown, now = Date.now()) =>
  signRequest(
    who.seed,
    who.credential,
    method,
    path,
    new TextEncoder().encode(body === undefined ? "" : JSON.stringify(body)),
    now,
  );

test(
  "unsigned, badly signed, stale, replayed, expired and foreign-authority requests get 401",
  TEST_TIMEOUT,
  async () => {
    const path = "/v1/keys";
    const expect401 = async (p: ReturnType<typeof send>, reason: string) => {
      const r = await p;
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.type, "urn:custody:problem:unauthorized");
      assert.equal(r.body.reason, reason);
    };
    await expect401(send("GET", path, undefined, {}), "missing");
    const body = { message: "00" };
    const h = signed(stack!.admin, "POST", `/v1/keys/${keyA}/sign`, body);
    await expect401(send("POST", `/v1/keys/${keyA}/sign`, { message: "01" }, h), "bad-signature");
    await expect401(send("POST", `/v1/keys/${keyB}/sign`, body, h), "bad-signature");
    await expect401(
      send("GET", path, undefined, signed(stack!.admin, "GET", path, undefined, Date.now() - 5 * 60_000)),
      "stale",
    );
    const once = signed(stack!.admin, "GET", path, undefined);
    assert.equal((await send("GET", path, undefined, once)).status, 200);
    await expect401(send("GET", path, undefined, once), "replayed");
    // Credentials that differ from an accepted one in exactly one respect: the signing authority, or
    // the expiry. Each is first shown to work when that one respect is right.
    const trusted = readFileSync(authoritySeedPath(stack!.options.dir), "utf8");
    const rogue = createAuthority();
    const key = createClientKey();
    const now = Math.floor(Date.now() / 1000);
    const claims: Omit<CredentialClaims, "v"> = {
      sub: key.publicKey,
      name: "mallory",
      role: "admin",
      tenant: "default",
      keys: ["*"],
      iat: now,
      exp: now + 3600,
    };
    const as = (credential: string) => signed({ seed: key.seed, credential }, "GET", path);
    const genuine = await send("GET", path, undefined, as(issueCredential(trusted, claims)));
    assert.equal(genuine.status, 200, JSON.stringify(genuine.body));
    await expect401(send("GET", path, undefined, as(issueCredential(rogue.seed, claims))), "bad-credential");
    const lapsed = { ...claims, iat: now - 7200, exp: now - 3600 };
    await expect401(send("GET", path, undefined, as(issueCredential(trusted, lapsed))), "expired");
    const otherKey = createClientKey();
    await expect401(
      send(
        "GET",
        path,
        undefined,
        signed({ seed: otherKey.seed, credential: stack!.admin.credential }, "GET", path),
      ),
      "bad-signature",
    );
  },
);

test(
  "roles and key grants: auditors read, signers sign only granted keys, only admins create or refresh",
  TEST_TIMEOUT,
  async () => {
    const auditor = new CustodyClient(stack!.apiUrl, client("auditor", { role: "auditor" }));
    assert.ok((await auditor.listKeys()).some((k) => k.id === keyA));
    await assert.rejects(auditor.sign(keyA, { message: "00" }), problem(403, "forbidden"));

    const signer = new CustodyClient(stack!.apiUrl, client("signer", { role: "signer", keys: [keyA] }));
    const m = randomBytes(32);
    const op = await signer.wait(await signer.sign(keyA, { message: m.toString("hex") }), 60_000);
    assert.equal(op.status, "succeeded", JSON.stringify(op.error));
    assert.ok(verifyEd25519((await signer.getKey(keyA)).publicKey!, m, op.signature!.signature));
    await assert.rejects(signer.sign(keyB, { message: "00" }), problem(403, "forbidden"));
    await assert.rejects(signer.refresh(keyA), problem(403, "forbidden"));
    await assert.rejects(
      signer.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }),
      problem(403, "forbidden"),
    );
  },
);

test("tenant isolation: another tenant sees none of these keys or operations", TEST_TIMEOUT, async () => {
  const other = new CustodyClient(stack!.apiUrl, loadClient(createTenant("other")));
  assert.deepEqual(await other.listKeys(), []);
  await assert.rejects(other.getKey(keyA), problem(404, "not-found"));
  await assert.rejects(other.sign(keyA, { message: "00" }), problem(404, "not-found"));
  const op = await admin.sign(keyA, { message: "00" });
  await assert.rejects(other.operation(op.id), problem(404, "not-found"));
  const own = await other.wait(await other.createKey({ scheme: "bip340", threshold: 2, parties: 3 }), 60_000);
  assert.equal(own.status, "succeeded");
  assert.deepEqual(
    (await other.listKeys()).map((k) => k.id),
    [own.keyId],
  );
  assert.ok(!(await admin.listKeys()).some((k) => k.id === own.keyId));
});

test(
  "tenants are isolated by NATS accounts: identical subjects and buckets never meet",
  TEST_TIMEOUT,
  async () => {
    const mine = await adminConnection(stack!);
    const theirs = await adminConnection(stack!, "other");
    try {
      const subject = "custody.s.op_probe.m.1.2";
      const seen = { mine: 0, theirs: 0 };
      const subMine = mine.subscribe(subject, {
        callback: () => {
          seen.mine++;
        },
      });
      const subTheirs = theirs.subscribe(subject, {
        callback: () => {
          seen.theirs++;
        },
      });
      await Promise.all([mine.flush(), theirs.flush()]);
      mine.publish(subject, new Uint8Array([1]));
      await mine.flush();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.mine, 1, "the message reaches its own account");
      assert.equal(seen.theirs, 0, "the same subject in another account hears nothing");
      subMine.unsubscribe();
      subTheirs.unsubscribe();
      // Same bucket names, separate contents: the default tenant's key and shares are not in "other".
      const kvm = (nc: typeof mine) => new Kvm(nc);
      assert.ok(await (await kvm(mine).open("custody_keys")).get(keyA));
      assert.equal(await (await kvm(theirs).open("custody_keys")).get(keyA), null);
      const sharesOf = async (nc: typeof mine) => {
        const keys: string[] = [];
        for await (const k of await (await kvm(nc).open("custody_shares_p1")).keys()) keys.push(k);
        return keys;
      };
      assert.ok((await sharesOf(mine)).some((k) => k.startsWith(`${keyA}.`)));
      assert.ok(!(await sharesOf(theirs)).some((k) => k.startsWith(`${keyA}.`)));
    } finally {
      await mine.close();
      await theirs.close();
    }
    // A credential for a tenant the operator never enrolled is refused with a typed problem.
    const ghost = new CustodyClient(stack!.apiUrl, client("ghost-admin", { role: "admin", tenant: "ghost" }));
    await assert.rejects(ghost.listKeys(), problem(403, "unknown-tenant"));
  },
);

test(
  "a work item no client asked for is refused by every party (a compromised API is no signing oracle)",
  TEST_TIMEOUT,
  async () => {
    const nc = await apiConnection(stack!);
    const js = jetstream(nc);
    const key = await admin.getKey(keyA);
    const path = `/v1/keys/${keyA}/sign`;
    /** A genuine client request to sign `message` (never sent to the API, so never served). */
    const clientRequest = (message: Uint8Array) => {
      const body = { message: Buffer.from(message).toString("hex") };
      const h = signed(stack!.admin, "POST", path, body);
      return create(ClientRequestSchema, {
        credential: h["custody-credential"],
        method: "POST",
        path,
        body: new TextEncoder().encode(JSON.stringify(body)),
        timestampMs: BigInt(h["custody-timestamp"]!),
        nonce: h["custody-nonce"],
        signature: h["custody-signature"],
      });
    };
    // Each item is wrong in one respect only, and each party must refuse it for that reason: each
    // case has a request of its own, so no refusal can come from an earlier case's request.
    type Case = {
      client?: ReturnType<typeof clientRequest>;
      tenant: string;
      message: Uint8Array;
      why: RegExp;
    };
    const cases: Record<string, Case> = {};
    cases.unsigned = { tenant: "default", message: randomBytes(32), why: /carries no client request/ };
    // A genuine request for message 00…, replayed by the "API" with another message.
    cases.swapped = {
      client: clientRequest(new Uint8Array(32)),
      tenant: "default",
      message: randomBytes(32),
      why: /message differs from the signed request/,
    };
    // Published into this tenant's account but naming another tenant; the message matches.
    const routed = randomBytes(32);
    cases.misrouted = {
      client: clientRequest(routed),
      tenant: "other",
      message: routed,
      why: /another tenant/,
    };
    const ids = new Map<string, Case>();
    for (const [name, c] of Object.entries(cases)) {
      // The operation id the client request derives, so that no case is refused for its id.
      const id = c.client
        ? operationIdOf({ tenant: c.tenant, credential: c.client.credential, nonce: c.client.nonce })
        : `op_evil_${name}_${randomBytes(4).toString("hex")}`;
      ids.set(id, c);
      const item = create(WorkItemSchema, {
        operationId: id,
        keyId: keyA,
        scheme: "ed25519",
        tenant: c.tenant,
        createdAtMs: BigInt(Date.now()),
        client: c.client,
        op: {
          case: "sign",
          value: create(SignWorkSchema, { epoch: key.epoch, signers: [1, 2], message: c.message }),
        },
      });
      await js.publish(requestSubject("sign", id), toBinary(WorkItemSchema, item), { msgID: id });
    }
    const adminNc = await adminConnection(stack!);
    const results = await jetstream(adminNc).streams.get(RESULT_STREAM);
    for (const [id, c] of ids) {
      for (const party of [1, 2, 3]) {
        let m = null;
        for (let i = 0; i < 100 && !m; i++) {
          m = await results.getMessage({ last_by_subj: resultSubject(id, party) }).catch(() => null);
          if (!m) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(m, `party ${party} answered ${id}`);
        const r = fromBinary(WorkResultSchema, m.data);
        assert.equal(r.outcome.case, "failure", `party ${party} refused ${id}`);
        assert.equal(r.outcome.case === "failure" && r.outcome.value.code, "unauthorized-request");
        assert.match(r.outcome.case === "failure" ? r.outcome.value.message : "", c.why, `${party}: ${id}`);
      }
    }
    await nc.close();
    await adminNc.close();
  },
);

test(
  "mTLS and JWTs at the broker: no certificate, one from another CA, or a JWT from an unknown account is refused",
  TEST_TIMEOUT,
  async () => {
    const credentials = readCreds(stack!.operator.controlCreds);
    const good = stack!.pki.client("admin");
    const foreign = createDevPki(mkdtempSync(join(tmpdir(), "custody-foreign-pki-"))).client("admin");
    // One attempt each, without reconnects, so that the error is the broker's answer to it. The
    // client trusts the broker's CA every time: only what the broker checks differs.
    const attempt = (tls: { caFile: string; certFile?: string; keyFile?: string }, creds = credentials) =>
      connect({
        servers: stack!.natsUrls,
        authenticator: jwtAuthenticator(creds.jwt, creds.seed),
        tls,
        reconnect: false,
        timeout: 3000,
      }).then((c) => c.close());
    await attempt(good); // positive control
    await refusedTls(() => attempt({ caFile: good.caFile }), "client didn't provide a certificate");
    await refusedTls(
      () => attempt({ ...foreign, caFile: good.caFile }),
      "failed to verify client certificate: x509: certificate signed by unknown authority",
    );
    // A self-made account signs itself a user: the operator never signed that account.
    const stranger = await newUser(createAccount(), "stranger");
    await assert.rejects(attempt(good, stranger), authorizationViolation);
  },
);

test(
  "the audit trail records requests and outcomes in a hash chain, and `custody audit verify` finds a forged link",
  TEST_TIMEOUT,
  async () => {
    const verifyCli = () => {
      const r = spawnSync(
        process.execPath,
        [CLI_MAIN, "audit", "verify", "--json", "--profile", join(stack!.options.dir, "profile.json")],
        {
          encoding: "utf8",
        },
      );
      return {
        status: r.status,
        out: JSON.parse(r.stdout) as { entries: number; brokenAt?: number; reason?: string },
      };
    };
    const nc = await controlConnection();
    const js = jetstream(nc);
    const stream = await js.streams.get(AUDIT_STREAM);
    await new Promise((r) => setTimeout(r, 500));
    const entries: AuditRecord[] = [];
    const info = await stream.info();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await stream.getMessage({ seq });
      entries.push(JSON.parse(new TextDecoder().decode(m!.data)) as AuditRecord);
    }
    assert.ok(
      entries.some((e) => e.entry.kind === "http" && e.entry.result === "401"),
      `refused requests are recorded: ${JSON.stringify(entries.slice(0, 3))} ${entries.length}`,
    );
    assert.ok(
      entries.some(
        (e) =>
          e.entry.kind === "http" && e.entry.action === "POST /v1/keys/:id/sign" && e.entry.result === "202",
      ),
    );
    assert.ok(
      entries.some(
        (e) => e.entry.kind === "outcome" && e.entry.action === "sign" && e.entry.result === "succeeded",
      ),
    );
    assert.ok(entries.some((e) => e.entry.kind === "outcome" && e.entry.action === "dkg"));
    assert.ok(!JSON.stringify(entries).includes(stack!.admin.seed), "no secrets in the trail");
    const ok = verifyCli();
    assert.equal(ok.status, 0);
    assert.equal(ok.out.brokenAt, undefined);
    assert.ok(ok.out.entries >= entries.length);

    // Someone with broker rights appends a forged entry: the chain breaks exactly there.
    const forged = {
      prev: "f".repeat(64),
      hash: "e".repeat(64),
      entry: { at: new Date().toISOString(), kind: "http", action: "GET /v1/keys", result: "200" },
    };
    const ack = await js.publish(auditSubject, new TextEncoder().encode(JSON.stringify(forged)));
    const broken = verifyCli();
    assert.equal(broken.status, 1);
    assert.equal(broken.out.brokenAt, ack.seq);
    await nc.close();
  },
);

test(
  "`custody tenants create` enrols a tenant in its own account and issues an admin that sees only it",
  TEST_TIMEOUT,
  async () => {
    const profile = join(stack!.options.dir, "profile.json");
    const t = createTenant("acme");
    assert.match(t.account, /^A[A-Z2-7]{55}$/);
    const nc = await controlConnection();
    try {
      const entry = await (await TenantRegistry.open(nc)).get("acme");
      assert.equal(entry?.account, t.account, "the registry names the tenant's account");
      const served = Object.keys(entry!.users).sort();
      const expected = ["api", "party1-w1", "party2-w1", "party3-w1"].map((n) =>
        publicKeyOf(stack!.seedFile(n)),
      );
      assert.deepEqual(served, expected.sort(), "the API and every worker get a JWT for it");
    } finally {
      await nc.close();
    }
    const list = cli(
      "keys",
      "list",
      "--json",
      "--profile",
      profile,
      "--seed",
      t.seedFile,
      "--credential",
      t.credentialFile,
    );
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), []);
    const listed = cli("tenants", "list", "--json", "--profile", profile);
    assert.equal(listed.status, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { tenant: string; account: string; identities: number }[];
    assert.deepEqual(
      rows.find((r) => r.tenant === "acme"),
      { tenant: "acme", account: t.account, identities: 4 },
    );
    assert.ok(rows.some((r) => r.tenant === "default"));
    const again = cli("tenants", "create", "acme", "--profile", profile);
    assert.notEqual(again.status, 0, "a tenant is created once");
    assert.match(again.stderr, /exists/);
  },
);

test(
  "`custody identities revoke` cuts a compromised worker off in every account; the others keep signing",
  TEST_TIMEOUT,
  async () => {
    const name = "party3-w1";
    const control = readCreds(stack!.credsFile(name));
    const tenant = await stack!.serviceCredentials(name);
    const publicKey = publicKeyOf(stack!.seedFile(name));
    const tls = stack!.pki.client(name);
    const attempt = (credentials: typeof control) =>
      connectNats({ servers: stack!.natsUrls, credentials, tls, name: "revoked", timeoutMs: 3000 }).then(
        (c) => c.close(),
      );
    // Positive controls: both credentials work before the revocation.
    await attempt(control);
    await attempt(tenant);
    const r = cli("identities", "revoke", name, "--profile", join(stack!.options.dir, "profile.json"));
    assert.equal(r.status, 0, r.stderr);
    await assert.rejects(attempt(control), authorizationViolation, "refused in the control account");
    await assert.rejects(attempt(tenant), authorizationViolation, "refused in the tenant account");
    const nc = await controlConnection();
    try {
      for (const entry of await (await TenantRegistry.open(nc)).list())
        assert.ok(!(publicKey in entry.users), `no JWT for it in ${entry.tenant}'s entry`);
    } finally {
      await nc.close();
    }
    // Its open connections were closed: party 3 falls silent, parties 1 and 2 still sign.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = (await (await fetch(`${stack!.apiUrl}/readyz`)).json()) as { liveParties: number[] };
      if (!ready.liveParties.includes(3)) break;
      assert.ok(Date.now() < deadline, "party 3 stops heartbeating");
      await new Promise((res) => setTimeout(res, 250));
    }
    const m = randomBytes(32);
    const op = await admin.wait(await admin.sign(keyA, { message: m.toString("hex") }), 60_000);
    assert.equal(op.status, "succeeded", JSON.stringify(op.error));
    assert.ok(verifyEd25519((await admin.getKey(keyA)).publicKey!, m, op.signature!.signature));
  },
);
