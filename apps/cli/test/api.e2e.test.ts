/**
 * The API's contract as a client relies on it: problem+json errors with stable types, idempotent
 * retries, no-quorum answers, OpenAPI, and a stack restart that keeps every key.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { signRequest } from "@custody/credentials";
import { ApiProblem, CustodyClient } from "@custody/sdk";
import { Stack } from "../src/index.js";
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
  await expectProblem(
    raw("POST", "/v1/keys", { scheme: "rsa", threshold: 2, parties: 3 }),
    400,
    "invalid-request",
  );
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

  stack!.startWorker(3, 1);
  await stack!.waitReady();
  const refreshed = await api.wait(await api.refresh(keyId), 60_000);
  assert.equal(refreshed.status, "succeeded", JSON.stringify(refreshed.error));
  assert.equal((await api.getKey(keyId)).epoch, 1);
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
});
