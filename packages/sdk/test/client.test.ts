/**
 * The client's retries, Idempotency-Keys and typed problems, against a scripted local HTTP peer.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createClientKey } from "@custody/credentials";
import {
  ApiProblem,
  CustodyClient,
  isApiProblem,
  type Operation,
  OperationError,
  parseRetryAfter,
  problemTypeOf,
} from "../src/index.js";
import { type Peer, problem, type Reply, startPeer } from "./peer.js";

const peers: Peer[] = [];
after(() => Promise.all(peers.map((p) => p.close())));
async function peer(handler: Parameters<typeof startPeer>[0]) {
  const p = await startPeer(handler);
  peers.push(p);
  return p;
}

const op = (over: Partial<Operation> = {}): Operation => ({
  id: "op_1",
  type: "sign",
  status: "pending",
  keyId: "key_1",
  participants: [1, 2],
  reports: {},
  createdAt: "t",
  updatedAt: "t",
  ...over,
});
const ok = (json: unknown): Reply => ({ status: 200, json });
const key = { id: "key_1", scheme: "ed25519", status: "active" };

test("a GET refused with 429 and Retry-After: 1 is sent again after a second, freshly signed", async () => {
  const p = await peer((_, i) => (i === 0 ? problem(429, "rate-limited", { "retry-after": "1" }) : ok(key)));
  const client = new CustodyClient(p.url, { seed: createClientKey().seed, credential: "cred" });
  const t0 = Date.now();
  assert.deepEqual(await client.getKey("key_1"), key);
  assert.ok(Date.now() - t0 >= 950, "waited for Retry-After");
  assert.equal(p.received.length, 2);
  const nonces = p.received.map((r) => r.headers["custody-nonce"]);
  assert.match(String(nonces[0]), /^[0-9a-f]{32}$/);
  assert.notEqual(nonces[0], nonces[1], "each attempt carries a new nonce (the API refuses replays)");
  assert.notEqual(p.received[0]!.headers["custody-signature"], p.received[1]!.headers["custody-signature"]);
});

test("sign retried after 503 keeps its automatic Idempotency-Key; the next call gets another", async () => {
  const p = await peer((r) =>
    p.received.filter((x) => x.url === r.url).length % 2 === 1
      ? problem(503, "no-quorum", { "retry-after": "0" })
      : { status: 202, json: op() },
  );
  const client = new CustodyClient(p.url);
  await client.sign("key_1", { message: "00" });
  await client.sign("key_1", { message: "00" });
  assert.equal(p.received.length, 4);
  const keys = p.received.map((r) => r.headers["idempotency-key"]);
  assert.match(String(keys[0]), /^sdk-[0-9a-f]{32}$/);
  assert.equal(keys[0], keys[1], "the retry repeats the same logical call");
  assert.equal(keys[2], keys[3]);
  assert.notEqual(keys[0], keys[2], "two calls are two operations");
  assert.equal(p.received[1]!.body, JSON.stringify({ message: "00" }));
});

test("createKey and refresh send the caller's Idempotency-Key, unchanged, on every attempt", async () => {
  const p = await peer((_, i) =>
    i % 2 === 0 ? problem(429, "rate-limited", { "retry-after": "0" }) : { status: 202, json: op() },
  );
  const client = new CustodyClient(p.url);
  await client.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }, { idempotencyKey: "mine-1" });
  await client.refresh("key_1", { idempotencyKey: "mine-2" });
  assert.deepEqual(
    p.received.map((r) => [r.method, r.url, r.headers["idempotency-key"]]),
    [
      ["POST", "/v1/keys", "mine-1"],
      ["POST", "/v1/keys", "mine-1"],
      ["POST", "/v1/keys/key_1/refresh", "mine-2"],
      ["POST", "/v1/keys/key_1/refresh", "mine-2"],
    ],
  );
});

test("a write without an Idempotency-Key is not repeated", async () => {
  const p = await peer(() => problem(429, "rate-limited", { "retry-after": "0" }));
  const client = new CustodyClient(p.url);
  await assert.rejects(client.registerCredential("c"), (e) => isApiProblem(e, "rate-limited"));
  await assert.rejects(client.revokeCredential({ id: "0".repeat(64) }), (e) =>
    isApiProblem(e, "rate-limited"),
  );
  assert.equal(p.received.length, 2);
});

test("retries are bounded by the policy, and an error that is not 429/503 is not retried", async () => {
  const p = await peer((r) =>
    r.url.startsWith("/v1/keys/") ? problem(404, "not-found") : problem(503, "unavailable"),
  );
  const client = new CustodyClient(p.url, undefined, { retry: { retries: 2, baseDelayMs: 1 } });
  await assert.rejects(client.listKeys(), (e) => isApiProblem(e, "unavailable") && e.status === 503);
  assert.equal(p.received.length, 3, "first attempt and two retries");
  await assert.rejects(client.getKey("x"), (e) => isApiProblem(e, "not-found"));
  assert.equal(p.received.length, 4);
  const off = new CustodyClient(p.url, undefined, { retry: { retries: 0 } });
  await assert.rejects(off.listKeys(), (e) => isApiProblem(e, "unavailable"));
  assert.equal(p.received.length, 5);
});

test("without Retry-After the delay doubles from baseDelayMs", async () => {
  const p = await peer((_, i) => (i < 2 ? problem(503, "unavailable") : ok({ keys: [] })));
  const client = new CustodyClient(p.url, undefined, { retry: { baseDelayMs: 200 } });
  const t0 = Date.now();
  assert.deepEqual(await client.listKeys(), []);
  assert.ok(Date.now() - t0 >= 580, "200 ms then 400 ms");
});

test("a Retry-After longer than maxDelayMs ends retrying with the problem at once", {
  timeout: 5000,
}, async () => {
  const p = await peer(() => problem(429, "rate-limited", { "retry-after": "30" }));
  const client = new CustodyClient(p.url, undefined, { retry: { maxDelayMs: 5000 } });
  const t0 = Date.now();
  await assert.rejects(client.listKeys(), (e) => e instanceof ApiProblem && e.retryAfterMs === 30_000);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(p.received.length, 1);
});

test("Retry-After: delay-seconds and HTTP dates; anything else is ignored", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("2", now), 2000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now), 0, "a past date: no wait");
  for (const bad of [null, undefined, "", "-1", "1.5", "soon", "12345678901"])
    assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
});

test("problems are typed: stable types and codes, about:blank otherwise, the body kept", async () => {
  const p = await peer((r) =>
    r.url === "/v1/keys/a"
      ? problem(409, "key-not-active")
      : r.url === "/v1/keys/b"
        ? { status: 418, json: { type: "urn:custody:problem:teapot", title: "t", extra: 1 } }
        : { status: 502, text: "<html>bad gateway</html>" },
  );
  const client = new CustodyClient(p.url);
  const a = await client.getKey("a").catch((e: unknown) => e);
  assert.ok(isApiProblem(a, "key-not-active"));
  assert.equal(a.type, "urn:custody:problem:key-not-active");
  assert.equal(a.detail, "key-not-active detail");
  assert.equal(isApiProblem(a, "conflict"), false);
  const b = await client.getKey("b").catch((e: unknown) => e);
  assert.ok(isApiProblem(b));
  assert.equal(b.type, "about:blank");
  assert.equal(b.code, undefined);
  assert.equal(b.body.type, "urn:custody:problem:teapot");
  const c = await client.getKey("c").catch((e: unknown) => e);
  assert.ok(isApiProblem(c), "a non-JSON body is a typed problem, not a SyntaxError");
  assert.equal(c.status, 502);
  assert.equal(problemTypeOf("urn:custody:problem:not-found"), "urn:custody:problem:not-found");
  assert.equal(problemTypeOf(7), "about:blank");
  assert.equal(isApiProblem(new Error("x")), false);
});

test("deadLetters reads GET /v1/dead-letters; waitForSuccess throws OperationError on a failure", async () => {
  const failed = op({ status: "failed", error: { code: "no-quorum", message: "m", culprits: [3] } });
  const p = await peer((r) =>
    r.url.startsWith("/v1/dead-letters") ? ok({ operations: [failed] }) : ok(failed),
  );
  const client = new CustodyClient(p.url);
  assert.deepEqual(await client.deadLetters(5), [failed]);
  assert.deepEqual(await client.deadLetters(), [failed]);
  assert.deepEqual(
    p.received.map((r) => r.url),
    ["/v1/dead-letters?limit=5", "/v1/dead-letters"],
  );
  await assert.rejects(
    client.waitForSuccess("op_1"),
    (e) => e instanceof OperationError && e.operation.status === "failed" && /culprits: 3/.test(e.message),
  );
});
