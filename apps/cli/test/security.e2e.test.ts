/**
 * Zero trust at the API, at the broker and at the parties: unsigned, badly signed, stale and
 * replayed requests are refused; roles, key grants and tenants are enforced; each tenant's data
 * plane lives in its own NATS account, so even identical subjects and bucket names do not meet; and
 * a work item that no client signed (as a compromised API would publish) is refused by every party.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createAuthority, createClientKey, issueCredential, signRequest } from "@custody/credentials";
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
import {
  API_INBOX,
  type AuditRecord,
  connectNats,
  publicKeyOf,
  readCreds,
  TenantRegistry,
} from "@custody/runtime";
import { CustodyClient } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createAccount } from "@nats-io/nkeys";
import { connect, jwtAuthenticator } from "@nats-io/transport-node";
import { CLI_MAIN, issueClient, type LoadedClient, loadClient, type Stack } from "../src/index.js";
import { adminConnection } from "./broker.js";
import { startTestStack, stopTestStack, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
let admin: CustodyClient;
let keyA: string;
let keyB: string;

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
});
after(() => stopTestStack(stack));

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

test("unsigned, badly signed, stale, replayed and foreign-authority requests get 401", async () => {
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
  const rogue = createAuthority();
  const key = createClientKey();
  const now = Math.floor(Date.now() / 1000);
  const forged = issueCredential(rogue.seed, {
    sub: key.publicKey,
    name: "mallory",
    role: "admin",
    tenant: "default",
    keys: ["*"],
    iat: now,
    exp: now + 3600,
  });
  await expect401(
    send("GET", path, undefined, signed({ seed: key.seed, credential: forged }, "GET", path)),
    "bad-credential",
  );
  const expired = issueCredential(rogue.seed, {
    sub: key.publicKey,
    name: "x",
    role: "admin",
    tenant: "default",
    keys: [],
    iat: now - 7200,
    exp: now - 3600,
  });
  await expect401(
    send("GET", path, undefined, signed({ seed: key.seed, credential: expired }, "GET", path)),
    "bad-credential",
  );
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
});

test("roles and key grants: auditors read, signers sign only granted keys, only admins create or refresh", async () => {
  const auditor = new CustodyClient(stack!.apiUrl, client("auditor", { role: "auditor" }));
  assert.ok((await auditor.listKeys()).some((k) => k.id === keyA));
  await assert.rejects(auditor.sign(keyA, { message: "00" }), (e: { status?: number }) => e.status === 403);

  const signer = new CustodyClient(stack!.apiUrl, client("signer", { role: "signer", keys: [keyA] }));
  const m = randomBytes(32);
  const op = await signer.wait(await signer.sign(keyA, { message: m.toString("hex") }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  assert.ok(verifyEd25519((await signer.getKey(keyA)).publicKey!, m, op.signature!.signature));
  await assert.rejects(signer.sign(keyB, { message: "00" }), (e: { status?: number }) => e.status === 403);
  await assert.rejects(signer.refresh(keyA), (e: { status?: number }) => e.status === 403);
  await assert.rejects(
    signer.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }),
    (e: { status?: number }) => e.status === 403,
  );
});

test("tenant isolation: another tenant sees none of these keys or operations", async () => {
  const other = new CustodyClient(stack!.apiUrl, loadClient(createTenant("other")));
  assert.deepEqual(await other.listKeys(), []);
  await assert.rejects(other.getKey(keyA), (e: { status?: number }) => e.status === 404);
  await assert.rejects(other.sign(keyA, { message: "00" }), (e: { status?: number }) => e.status === 404);
  const op = await admin.sign(keyA, { message: "00" });
  await assert.rejects(other.operation(op.id), (e: { status?: number }) => e.status === 404);
  const own = await other.wait(await other.createKey({ scheme: "bip340", threshold: 2, parties: 3 }), 60_000);
  assert.equal(own.status, "succeeded");
  assert.deepEqual(
    (await other.listKeys()).map((k) => k.id),
    [own.keyId],
  );
  assert.ok(!(await admin.listKeys()).some((k) => k.id === own.keyId));
});

test("tenants are isolated by NATS accounts: identical subjects and buckets never meet", async () => {
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
  await assert.rejects(
    ghost.listKeys(),
    (e: { status?: number; type?: string }) =>
      e.status === 403 && e.type === "urn:custody:problem:unknown-tenant",
  );
});

test("a work item no client asked for is refused by every party (a compromised API is no signing oracle)", async () => {
  const nc = await connectNats({
    servers: stack!.natsUrls,
    credentials: await stack!.serviceCredentials("api"),
    tls: stack!.pki.client("api"),
    name: "evil-api",
    inboxPrefix: API_INBOX,
  });
  const js = jetstream(nc);
  const key = await admin.getKey(keyA);
  // A genuine client request for message 00…, replayed by the "API" with another message.
  const genuineBody = { message: "00".repeat(32) };
  const path = `/v1/keys/${keyA}/sign`;
  const h = signed(stack!.admin, "POST", path, genuineBody);
  const genuine = create(ClientRequestSchema, {
    credential: h["custody-credential"],
    method: "POST",
    path,
    body: new TextEncoder().encode(JSON.stringify(genuineBody)),
    timestampMs: BigInt(h["custody-timestamp"]!),
    nonce: h["custody-nonce"],
    signature: h["custody-signature"],
  });
  const cases: Record<string, { client?: typeof genuine; tenant: string }> = {
    unsigned: { tenant: "default" },
    swapped: { client: genuine, tenant: "default" },
    // Published into this tenant's account but naming another tenant.
    misrouted: { client: genuine, tenant: "other" },
  };
  const ids: string[] = [];
  for (const [name, c] of Object.entries(cases)) {
    const id = `op_evil_${name}_${randomBytes(4).toString("hex")}`;
    ids.push(id);
    const item = create(WorkItemSchema, {
      operationId: id,
      keyId: keyA,
      scheme: "ed25519",
      tenant: c.tenant,
      createdAtMs: BigInt(Date.now()),
      client: c.client,
      op: {
        case: "sign",
        value: create(SignWorkSchema, { epoch: key.epoch, signers: [1, 2], message: randomBytes(32) }),
      },
    });
    await js.publish(requestSubject("sign", id), toBinary(WorkItemSchema, item), { msgID: id });
  }
  const adminNc = await adminConnection(stack!);
  const results = await jetstream(adminNc).streams.get(RESULT_STREAM);
  for (const id of ids) {
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
      if (id.includes("misrouted"))
        assert.match(r.outcome.case === "failure" ? r.outcome.value.message : "", /another tenant/);
    }
  }
  await nc.close();
  await adminNc.close();
});

test("mTLS and JWTs at the broker: no certificate, one from another CA, or a JWT from an unknown account is refused", async () => {
  const credentials = readCreds(stack!.operator.controlCreds);
  const good = stack!.pki.client("admin");
  const nc = await connectNats({ servers: stack!.natsUrls, credentials, tls: good, name: "tls-ok" });
  await nc.close();
  await assert.rejects(
    connect({
      servers: stack!.natsUrls,
      authenticator: jwtAuthenticator(credentials.jwt, credentials.seed),
      reconnect: false,
      timeout: 3000,
    }),
  );
  const foreign = createDevPki(mkdtempSync(join(tmpdir(), "custody-foreign-pki-"))).client("admin");
  await assert.rejects(
    connectNats({
      servers: stack!.natsUrls,
      credentials,
      tls: { ...foreign, caFile: good.caFile },
      name: "tls-foreign",
      timeoutMs: 3000,
    }).then((c) => c.close()),
  );
  // A self-made account signs itself a user: the operator never signed that account.
  const stranger = await newUser(createAccount(), "stranger");
  await assert.rejects(
    connectNats({
      servers: stack!.natsUrls,
      credentials: stranger,
      tls: good,
      name: "tls-stranger",
      timeoutMs: 3000,
    }).then((c) => c.close()),
  );
});

test("the audit trail records requests and outcomes in a hash chain, and `custody audit verify` finds a forged link", async () => {
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
});

test("`custody tenants create` enrols a tenant in its own account and issues an admin that sees only it", async () => {
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
});

test("`custody identities revoke` cuts a compromised worker off in every account; the others keep signing", async () => {
  const name = "party3-w1";
  const control = readCreds(stack!.credsFile(name));
  const tenant = await stack!.serviceCredentials(name);
  const publicKey = publicKeyOf(stack!.seedFile(name));
  const tls = stack!.pki.client(name);
  const attempt = (credentials: typeof control) =>
    connectNats({ servers: stack!.natsUrls, credentials, tls, name: "revoked", timeoutMs: 3000 }).then((c) =>
      c.close(),
    );
  await attempt(tenant); // positive control: the key works before the revocation
  const r = cli("identities", "revoke", name, "--profile", join(stack!.options.dir, "profile.json"));
  assert.equal(r.status, 0, r.stderr);
  await assert.rejects(attempt(control), "refused in the control account");
  await assert.rejects(attempt(tenant), "refused in the tenant account");
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
});
