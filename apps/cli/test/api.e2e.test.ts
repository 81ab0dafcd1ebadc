/**
 * The API's contract as a client relies on it: problem+json errors with stable types, idempotent
 * retries, a sign answer held for its end (`Prefer: wait`), no-quorum answers, OpenAPI, signed targets with characters fetch re-encodes, credential
 * revocation (and 503 when the list cannot be read), and a stack restart that keeps every key and
 * every revocation.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { issueCredential, signRequest } from "@custody/credentials";
import { REVOCATIONS_BUCKET } from "@custody/proto";
import { connectNats, credentialId, readCreds } from "@custody/runtime";
import { ApiProblem, CustodyClient } from "@custody/sdk";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { CLI_MAIN, issueClient, type LoadedClient, Stack } from "../src/index.js";
import { eventually, startTestStack, stopTestStack, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;
let keyId: string;
let publicKey: string;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  const op = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
  assert.equal(op.status, "succeeded");
  keyId = op.keyId;
  publicKey = (await api.getKey(keyId)).publicKey!;
});
after(() => stopTestStack(stack));

/** A request signed as `as` (default: the stack's admin); `as: null` sends it unsigned. */
async function raw(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  as: { seed: string; credential: string } | null = stack!.admin,
) {
  const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const auth = as
    ? signRequest(as.seed, as.credential, method, path, new TextEncoder().encode(text ?? ""))
    : {};
  const res = await fetch(`${stack!.apiUrl}${path}`, {
    method,
    headers: { ...(text !== undefined ? { "content-type": "application/json" } : {}), ...auth, ...headers },
    body: text,
  });
  const reply = await res.text();
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    headers: res.headers,
    body: reply ? JSON.parse(reply) : undefined,
  };
}

async function expectProblem(p: Promise<Awaited<ReturnType<typeof raw>>>, status: number, code: string) {
  const r = await p;
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.type, /^application\/problem\+json/);
  assert.equal(r.body.type, `urn:custody:problem:${code}`);
  assert.equal(r.body.status, status);
  assert.equal(typeof r.body.title, "string");
  return r;
}

test("bad input is 400 problem+json with a stable type", async () => {
  const scheme = await expectProblem(
    raw("POST", "/v1/keys", { scheme: "rsa", threshold: 2, parties: 3 }),
    400,
    "invalid-request",
  );
  assert.equal(scheme.body.detail, "scheme must be one of: ed25519, bip340, ecdsa-secp256k1");
  assert.deepEqual(scheme.body.allowed, ["ed25519", "bip340", "ecdsa-secp256k1"]);
  await expectProblem(
    raw("POST", "/v1/keys", { scheme: "ed25519", threshold: 4, parties: 3 }),
    400,
    "invalid-request",
  );
  await expectProblem(
    raw("POST", "/v1/keys", { scheme: "ed25519", threshold: 1, parties: 3 }),
    400,
    "invalid-request",
  );
  await expectProblem(
    raw("POST", "/v1/keys", { scheme: "ed25519", threshold: 2, parties: 3, extra: 1 }),
    400,
    "invalid-request",
  );
  await expectProblem(raw("POST", "/v1/keys", "{not json"), 400, "invalid-request");
  await expectProblem(raw("POST", `/v1/keys/${keyId}/sign`, { message: "abc" }), 400, "invalid-request");
  await expectProblem(raw("POST", `/v1/keys/${keyId}/sign`, { message: "zz" }), 400, "invalid-request");
  await expectProblem(
    raw("POST", `/v1/keys/${keyId}/sign`, { message: "00", path: "m/0" }),
    400,
    "invalid-request",
  );
  await expectProblem(raw("GET", "/v1/operations/op_x?wait=500"), 400, "invalid-request");
});

test("Prefer: wait holds a sign request's answer for its end: 200 with the signature, in one request", async () => {
  const message = randomBytes(32).toString("hex");
  const held = await raw("POST", `/v1/keys/${keyId}/sign`, { message }, { prefer: "respond-async, wait=20" });
  assert.equal(held.status, 200, JSON.stringify(held.body));
  assert.equal(held.headers.get("preference-applied"), "wait=20");
  assert.equal(held.body.status, "succeeded");
  assert.ok(verifyEd25519(publicKey, Buffer.from(message, "hex"), held.body.signature.signature));
  // Without the preference the answer is the pending operation, as before.
  const started = await raw("POST", `/v1/keys/${keyId}/sign`, { message });
  assert.equal(started.status, 202);
  assert.equal(started.body.status, "pending");
  assert.equal(started.headers.get("preference-applied"), null);
  // The SDK asks for it and needs no second request when the operation ended in time.
  const op = await api.sign(keyId, { message }, { waitSeconds: 20 });
  assert.equal(op.status, "succeeded");
  assert.ok(verifyEd25519(publicKey, Buffer.from(message, "hex"), op.signature!.signature));
});

test("unknown key, operation or route is 404", async () => {
  await expectProblem(raw("GET", "/v1/keys/key_doesnotexist"), 404, "not-found");
  await expectProblem(raw("POST", "/v1/keys/key_doesnotexist/sign", { message: "00" }), 404, "not-found");
  await expectProblem(raw("GET", "/v1/operations/op_doesnotexist"), 404, "not-found");
  await expectProblem(raw("GET", "/v2/nothing"), 404, "not-found");
});

test("an Idempotency-Key makes a retry return the same operation", async () => {
  const headers = { "idempotency-key": `retry-${randomBytes(4).toString("hex")}` };
  const a = await raw("POST", `/v1/keys/${keyId}/sign`, { message: "0102" }, headers);
  const b = await raw("POST", `/v1/keys/${keyId}/sign`, { message: "0102" }, headers);
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
  assert.equal(a.body.id, b.body.id);
  const done = await api.wait(a.body.id, 60_000);
  assert.equal(done.status, "succeeded");
  assert.ok(verifyEd25519(publicKey, Buffer.from("0102", "hex"), done.signature!.signature));
});

test("an Idempotency-Key reused with another body is 422, never the first request's result", async () => {
  const headers = { "idempotency-key": `reuse-${randomBytes(4).toString("hex")}` };
  const first = await raw("POST", `/v1/keys/${keyId}/sign`, { message: "1111" }, headers);
  assert.equal(first.status, 202);
  const other = await raw("POST", `/v1/keys/${keyId}/sign`, { message: "2222" }, headers);
  assert.equal(other.status, 422);
  assert.equal(other.body.type, "urn:custody:problem:idempotency-key-reused");
  assert.equal(other.body.operationId, first.body.id);
  assert.equal(
    (await raw("POST", `/v1/keys/${keyId}/sign`, { message: "1111" }, headers)).body.id,
    first.body.id,
  );
});

test("an Idempotency-Key is scoped by tenant and client: another client's same key starts its own operation", async () => {
  const dir = stack!.options.dir;
  const other = issueClient(
    dir,
    {
      seedFile: join(dir, "creds", "client-idem.nk"),
      credentialFile: join(dir, "creds", "client-idem.cred"),
    },
    { name: "idem", role: "signer", tenant: "default", keys: [keyId] },
  );
  const headers = { "idempotency-key": `shared-${randomBytes(4).toString("hex")}` };
  const mine = await raw("POST", `/v1/keys/${keyId}/sign`, { message: "0a0b" }, headers);
  const theirs = await raw("POST", `/v1/keys/${keyId}/sign`, { message: "0c0d" }, headers, other);
  assert.equal(mine.status, 202);
  assert.equal(theirs.status, 202);
  assert.notEqual(theirs.body.id, mine.body.id, "another client never gets this client's operation");
  const done = await api.wait(theirs.body.id, 60_000);
  assert.equal(done.status, "succeeded");
  assert.ok(verifyEd25519(publicKey, Buffer.from("0c0d", "hex"), done.signature!.signature));
});

test("GET /v1/operations lists the tenant's operations newest first, filtered and paged", async () => {
  const signed: string[] = [];
  for (let i = 0; i < 3; i++) {
    const op = await api.wait(await api.sign(keyId, { message: randomBytes(8).toString("hex") }), 30_000);
    assert.equal(op.status, "succeeded");
    signed.push(op.id);
  }
  // The index follows the bucket; the newest signature shows up within moments.
  await eventually(async () =>
    (await api.listOperations({ type: "sign", keyId, limit: 100 })).operations.some(
      (o) => o.id === signed[2],
    ),
  );
  const first = await api.listOperations({ type: "sign", keyId, limit: 2 });
  assert.equal(first.operations.length, 2);
  assert.ok(first.next);
  assert.deepEqual(
    first.operations.map((o) => o.id),
    [signed[2], signed[1]],
  );
  const rest = await api.listOperations({ type: "sign", keyId, limit: 2, cursor: first.next });
  assert.equal(rest.operations[0]!.id, signed[0]);
  const created = [...first.operations, ...rest.operations].map((o) => o.createdAt);
  assert.deepEqual([...created].sort().reverse(), created, "newest first");
  // Filters: the DKG is the only dkg of this key; nothing of this key failed.
  const dkg = await api.listOperations({ type: "dkg", keyId });
  assert.deepEqual(
    dkg.operations.map((o) => o.type),
    ["dkg"],
  );
  assert.equal(dkg.next, undefined);
  assert.deepEqual((await api.listOperations({ status: "failed", keyId })).operations, []);
  await expectProblem(raw("GET", "/v1/operations?limit=0"), 400, "invalid-request");
  await expectProblem(raw("GET", "/v1/operations?status=lost"), 400, "invalid-request");
  await expectProblem(raw("GET", "/v1/operations?cursor=bm90LWEtY3Vyc29y"), 400, "invalid-request");
});

test("OpenAPI document and docs page are served", async () => {
  const doc = await raw("GET", "/openapi.json");
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, "3.1.0");
  for (const p of [
    "/v1/keys",
    "/v1/keys/{id}",
    "/v1/keys/{id}/sign",
    "/v1/keys/{id}/refresh",
    "/v1/operations/{id}",
    "/v1/credentials/revoke",
  ])
    assert.ok(doc.body.paths[p], `documents ${p}`);
  const page = await fetch(`${stack!.apiUrl}/docs/`);
  assert.equal(page.status, 200);
  assert.equal((await raw("GET", "/healthz")).status, 200);
});

test("a lost party: signing continues with another quorum, refresh and DKG answer 503", async () => {
  await stack!.kill("party3-w1");
  await eventually(
    async () =>
      !(
        (await (await fetch(`${stack!.apiUrl}/readyz`)).json()) as { liveParties: number[] }
      ).liveParties.includes(3),
    10_000,
    "party 3 to be seen dead",
  );
  const m = randomBytes(32);
  const op = await api.wait(await api.sign(keyId, { message: m.toString("hex") }), 60_000);
  assert.equal(op.status, "succeeded");
  assert.deepEqual(op.participants, [1, 2]);
  assert.ok(verifyEd25519(publicKey, m, op.signature!.signature));

  const r = await expectProblem(raw("POST", `/v1/keys/${keyId}/refresh`), 503, "no-quorum");
  assert.ok(Number(r.headers.get("retry-after")) > 0, "503 carries Retry-After");
  await expectProblem(
    raw("POST", "/v1/keys", { scheme: "bip340", threshold: 2, parties: 3 }),
    503,
    "no-quorum",
  );
  await assert.rejects(api.refresh(keyId), (e: unknown) => e instanceof ApiProblem && e.status === 503);

  // With a single live party no key can sign: the API is not ready.
  await stack!.kill("party2-w1");
  await eventually(
    async () => (await fetch(`${stack!.apiUrl}/readyz`)).status === 503,
    10_000,
    "readyz to answer 503 with one live party",
  );
  const notReady = await fetch(`${stack!.apiUrl}/readyz`);
  assert.deepEqual(await notReady.json(), { status: "not-ready", liveParties: [1] });
  stack!.startWorker(2, 1);
  stack!.startWorker(3, 1);
  await stack!.waitReady();
  const refreshed = await api.wait(await api.refresh(keyId), 60_000);
  assert.equal(refreshed.status, "succeeded", JSON.stringify(refreshed.error));
  assert.equal((await api.getKey(keyId)).epoch, 1);
});

/** A new client of the stack's authority; `name` must be unique in the test file. */
function newClient(name: string, role: "admin" | "signer" | "auditor", tenant = "default"): LoadedClient {
  const dir = stack!.options.dir;
  return issueClient(
    dir,
    {
      seedFile: join(dir, "creds", `client-${name}.nk`),
      credentialFile: join(dir, "creds", `client-${name}.cred`),
    },
    { name, role, tenant, keys: role === "signer" ? ["*"] : undefined },
  );
}

test("targets with quotes and other characters fetch re-encodes are accepted as signed", async () => {
  // fetch sends `'` in a query as %27 (but not in a path), `"`, `<`, `>` and spaces encoded, and
  // non-ASCII as UTF-8: the API canonicalises what it receives as the client did before signing.
  for (const q of [
    "'",
    "''",
    "%27",
    '"',
    "<>",
    "a b",
    "\u00e9",
    "\u{1F4A5}",
    "{|}^`[]",
    "!*()",
    "a+b",
    "%2B",
  ]) {
    const r = await raw("GET", `/v1/keys/${keyId}?note=${q}&x='${q}'`);
    assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.id, keyId);
  }
  // A quoted path segment or query value reaches validation: 400, never 401.
  await expectProblem(raw("GET", `/v1/keys/'${keyId}'`), 400, "invalid-request");
  await expectProblem(raw("GET", "/v1/operations/op_x?wait='1'"), 400, "invalid-request");
  // The SDK sends the canonical target itself.
  await assert.rejects(api.getKey("it's"), (e: unknown) => e instanceof ApiProblem && e.status === 400);
});

test("a signature moved onto another credential of the same client key is refused", async () => {
  const signer = newClient("swap", "signer");
  const dir = stack!.options.dir;
  const claims = JSON.parse(Buffer.from(signer.credential.split(".")[0]!, "base64url").toString()) as {
    sub: string;
    iat: number;
    exp: number;
  };
  const wider = issueCredential(readFileSync(join(dir, "secrets", "authority.seed"), "utf8"), {
    sub: claims.sub,
    name: "swap",
    role: "admin",
    tenant: "default",
    keys: ["*"],
    iat: claims.iat,
    exp: claims.exp,
  });
  const h = signRequest(signer.seed, signer.credential, "GET", "/v1/dead-letters", new Uint8Array());
  const swapped = await raw(
    "GET",
    "/v1/dead-letters",
    undefined,
    { ...h, "custody-credential": wider },
    null,
  );
  assert.equal(swapped.status, 401, JSON.stringify(swapped.body));
  assert.equal(swapped.body.reason, "bad-signature");
  // The same headers with the credential they were made for pass authentication (and the signer
  // role is then refused the dead letters).
  await expectProblem(raw("GET", "/v1/dead-letters", undefined, h, null), 403, "forbidden");
  assert.equal(
    (await raw("GET", "/v1/dead-letters", undefined, {}, { seed: signer.seed, credential: wider })).status,
    200,
  );
});

test("a revoked credential gets 401 revoked; only an admin of its tenant revokes", async () => {
  const signer = newClient("revoked-signer", "signer");
  const auditor = newClient("revoked-auditor", "auditor");
  assert.equal((await raw("GET", "/v1/keys", undefined, {}, signer)).status, 200);
  // Non-admins may not revoke, and no admin revokes another tenant's credential.
  await expectProblem(
    raw("POST", "/v1/credentials/revoke", { credential: auditor.credential }, {}, signer),
    403,
    "forbidden",
  );
  const foreign = newClient("revoked-foreign", "admin", "othertenant");
  await expectProblem(
    raw("POST", "/v1/credentials/revoke", { credential: foreign.credential }),
    403,
    "forbidden",
  );
  await expectProblem(
    raw("POST", "/v1/credentials/revoke", { credential: "not.acredential" }),
    400,
    "invalid-request",
  );
  await expectProblem(raw("POST", "/v1/credentials/revoke", { id: "ABC" }), 400, "invalid-request");
  assert.equal((await raw("GET", "/v1/keys", undefined, {}, auditor)).status, 200);

  // The CLI revokes the signer's credential (given as its file).
  const dir = stack!.options.dir;
  const out = spawnSync(
    process.execPath,
    [
      CLI_MAIN,
      "credentials",
      "revoke",
      join(dir, "creds", "client-revoked-signer.cred"),
      "--reason",
      "lost laptop",
      "--profile",
      join(dir, "profile.json"),
      "--json",
    ],
    { encoding: "utf8" },
  );
  assert.equal(out.status, 0, out.stderr);
  const revoked = JSON.parse(out.stdout) as { id: string; tenant: string; reason: string; revokedAt: string };
  assert.equal(revoked.id, credentialId(signer.credential));
  assert.equal(revoked.tenant, "default");
  assert.equal(revoked.reason, "lost laptop");
  for (const [method, path, body] of [
    ["GET", "/v1/keys", undefined],
    ["POST", `/v1/keys/${keyId}/sign`, { message: "00" }],
  ] as const) {
    const r = await expectProblem(raw(method, path, body, {}, signer), 401, "unauthorized");
    assert.equal(r.body.reason, "revoked");
  }
  // By id: idempotent, the first record stays.
  const again = await api.revokeCredential({ id: revoked.id }, "again");
  assert.deepEqual(again, revoked);
  // Other credentials are untouched; the auditor is revoked by its id through the SDK.
  assert.equal((await raw("GET", "/v1/keys", undefined, {}, auditor)).status, 200);
  await api.revokeCredential({ id: credentialId(auditor.credential) });
  const r = await expectProblem(raw("GET", "/v1/keys", undefined, {}, auditor), 401, "unauthorized");
  assert.equal(r.body.reason, "revoked");
  assert.equal((await raw("GET", "/v1/keys")).status, 200);
});

test("without a readable revocation list no request is accepted (503), and none is lost", async () => {
  const nc = await connectNats({
    servers: stack!.natsUrls,
    credentials: readCreds(stack!.tenantAdminCreds()),
    tls: stack!.pki.client("admin"),
    name: "tenant-admin",
  });
  try {
    const jsm = await jetstreamManager(nc);
    const saved: Uint8Array[] = [];
    const kv = await new Kvm(nc).open(REVOCATIONS_BUCKET);
    for await (const k of await kv.keys()) saved.push((await kv.get(k))!.value);
    await jsm.streams.delete(`KV_${REVOCATIONS_BUCKET}`);
    const r = await expectProblem(raw("GET", "/v1/keys"), 503, "unavailable");
    assert.ok(Number(r.headers.get("retry-after")) > 0);
    const restored = await new Kvm(nc).create(REVOCATIONS_BUCKET, { history: 1, storage: StorageType.File });
    for (const v of saved) {
      const rec = JSON.parse(new TextDecoder().decode(v)) as { id: string };
      await restored.create(rec.id, v);
    }
  } finally {
    await nc.close();
  }
  assert.equal((await raw("GET", "/v1/keys")).status, 200);
});

test("a stopped and restarted stack keeps its keys", async () => {
  const dir = stack!.options.dir;
  await stack!.stop();
  stack = await Stack.start({ ...stack!.options, dir });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  const k = await api.getKey(keyId);
  assert.equal(k.publicKey, publicKey);
  assert.equal(k.epoch, 1);
  const m = randomBytes(32);
  const op = await api.wait(await api.sign(keyId, { message: m.toString("hex") }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  assert.ok(verifyEd25519(publicKey, m, op.signature!.signature));
  // Revocations are kept too.
  const revoked = {
    seed: readFileSync(join(dir, "creds", "client-revoked-signer.nk"), "utf8").trim(),
    credential: readFileSync(join(dir, "creds", "client-revoked-signer.cred"), "utf8").trim(),
  };
  const r = await expectProblem(raw("GET", "/v1/keys", undefined, {}, revoked), 401, "unauthorized");
  assert.equal(r.body.reason, "revoked");
});
