/**
 * Zero trust at the API and at the parties: unsigned, badly signed, stale and replayed requests are
 * refused; roles, key grants and tenants are enforced; and a work item that no client signed (as a
 * compromised API would publish) is refused by every party.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createAuthority, createClientKey, issueCredential, signRequest } from "@custody/credentials";
import { createDevPki } from "@custody/natsd";
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
import { API_INBOX, type AuditRecord, connectNats, createIdentity, readSeed } from "@custody/runtime";
import { CustodyClient } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { CLI_MAIN, issueClient, type LoadedClient, type Stack } from "../src/index.js";
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
  const other = new CustodyClient(stack!.apiUrl, client("other-admin", { role: "admin", tenant: "other" }));
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

test("a work item no client asked for is refused by every party (a compromised API is no signing oracle)", async () => {
  const nc = await connectNats({
    servers: stack!.natsUrls,
    seedFile: stack!.seedFile("api"),
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
  const cases = {
    unsigned: undefined,
    swapped: create(ClientRequestSchema, {
      credential: h["custody-credential"],
      method: "POST",
      path,
      body: new TextEncoder().encode(JSON.stringify(genuineBody)),
      timestampMs: BigInt(h["custody-timestamp"]!),
      nonce: h["custody-nonce"],
      signature: h["custody-signature"],
    }),
  };
  const ids: string[] = [];
  for (const [name, clientRequest] of Object.entries(cases)) {
    const id = `op_evil_${name}_${randomBytes(4).toString("hex")}`;
    ids.push(id);
    const item = create(WorkItemSchema, {
      operationId: id,
      keyId: keyA,
      scheme: "ed25519",
      tenant: "default",
      createdAtMs: BigInt(Date.now()),
      client: clientRequest,
      op: {
        case: "sign",
        value: create(SignWorkSchema, { epoch: key.epoch, signers: [1, 2], message: randomBytes(32) }),
      },
    });
    await js.publish(requestSubject("sign", id), toBinary(WorkItemSchema, item), { msgID: id });
  }
  const adminNc = await connectNats({
    servers: stack!.natsUrls,
    seedFile: stack!.seedFile("admin"),
    tls: stack!.pki.client("admin"),
    name: "auditor",
  });
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
    }
  }
  await nc.close();
  await adminNc.close();
});

test("mTLS at the broker: no certificate, or one from another CA, is refused even with a valid NKey", async () => {
  const seedFile = stack!.seedFile("admin");
  const good = stack!.pki.client("admin");
  const nc = await connectNats({ servers: stack!.natsUrls, seedFile, tls: good, name: "tls-ok" });
  await nc.close();
  await assert.rejects(
    connect({
      servers: stack!.natsUrls,
      authenticator: nkeyAuthenticator(readSeed(seedFile)),
      reconnect: false,
      timeout: 3000,
    }),
  );
  const foreign = createDevPki(mkdtempSync(join(tmpdir(), "custody-foreign-pki-"))).client("admin");
  await assert.rejects(
    connectNats({
      servers: stack!.natsUrls,
      seedFile,
      tls: { ...foreign, caFile: good.caFile },
      name: "tls-foreign",
      timeoutMs: 3000,
    }).then((c) => c.close()),
  );
  const stranger = createIdentity("stranger", join(stack!.options.dir, "creds", "stranger.nk"));
  await assert.rejects(
    connectNats({
      servers: stack!.natsUrls,
      seedFile: stranger.seedFile,
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
  const nc = await connectNats({
    servers: stack!.natsUrls,
    seedFile: stack!.seedFile("admin"),
    tls: stack!.pki.client("admin"),
    name: "auditor",
  });
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

test("`custody tenants create` issues a tenant admin whose requests see only that tenant", () => {
  const profile = join(stack!.options.dir, "profile.json");
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8" });
  const created = cli("tenants", "create", "acme", "--profile", profile, "--json");
  assert.equal(created.status, 0, created.stderr);
  const t = JSON.parse(created.stdout) as { seedFile: string; credentialFile: string };
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
  const again = cli("tenants", "create", "acme", "--profile", profile);
  assert.notEqual(again.status, 0, "a tenant is created once");
  assert.match(again.stderr, /exists/);
});
