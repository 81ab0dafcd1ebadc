import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify from "fastify";
import { backpressure, backpressureFromEnv } from "../src/http/plugins/backpressure.js";
import { Problem } from "../src/problems.js";

/** An app with the plugin and a work route that accepts with a fresh id, or hangs until released. */
async function app(o: { maxPending?: number; maxInFlight?: number }) {
  const pending = new Set<string>();
  const listeners: ((id: string) => void)[] = [];
  let hold: Promise<void> | undefined;
  let next = 0;
  const a = Fastify();
  a.setErrorHandler((e, _req, reply) => {
    if (!(e instanceof Problem)) return reply.code(500).send();
    return reply.code(e.status).header("retry-after", String(e.retryAfter)).send(e.body());
  });
  await a.register(backpressure, {
    ...o,
    isPending: (id) => pending.has(id),
    onSettled: (l) => listeners.push(l),
  });
  a.post("/v1/keys/:id/sign", async (_req, reply) => {
    await hold;
    const id = `op_${next++}`;
    pending.add(id);
    return reply.code(202).send({ id });
  });
  // Work answers that accept nothing: a refusal, and a 200 on another method of a work path.
  a.post("/v1/keys", async (_req, reply) => reply.code(400).send({ id: `op_refused_${next++}` }));
  a.put("/v1/keys/:id/sign", async (_req, reply) => reply.code(202).send({ id: `op_put_${next++}` }));
  a.post("/v1/other", async (_req, reply) => reply.code(202).send({ id: `op_other_${next++}` }));
  a.get("/healthz", async () => ({ status: "ok" }));
  const settle = (id: string) => {
    pending.delete(id);
    for (const l of listeners) l(id);
  };
  const holdUntil = (p: Promise<void> | undefined) => {
    hold = p;
  };
  return { a, settle, holdUntil };
}

const sign = (a: Awaited<ReturnType<typeof app>>["a"]) =>
  a.inject({ method: "POST", url: "/v1/keys/k/sign", payload: {} });

test("work beyond the pending bound gets 429 with Retry-After until an operation settles", async () => {
  const { a, settle } = await app({ maxPending: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await sign(a)).statusCode, 202);
  const refused = await sign(a);
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.headers["retry-after"], "1");
  assert.equal(refused.json().type, "urn:custody:problem:rate-limited");
  settle("op_1");
  assert.equal((await sign(a)).statusCode, 202, "a settled operation frees its place");
  assert.equal((await sign(a)).statusCode, 429);
  await a.close();
});

test("only accepted work counts against the pending bound: refusals, other methods and routes do not", async () => {
  const { a } = await app({ maxPending: 2 });
  for (let i = 0; i < 3; i++) {
    assert.equal((await a.inject({ method: "POST", url: "/v1/keys", payload: {} })).statusCode, 400);
    assert.equal((await a.inject({ method: "PUT", url: "/v1/keys/k/sign", payload: {} })).statusCode, 202);
    assert.equal((await a.inject({ method: "POST", url: "/v1/other", payload: {} })).statusCode, 202);
  }
  assert.equal((await sign(a)).statusCode, 202);
  assert.equal((await sign(a)).statusCode, 202);
  assert.equal((await sign(a)).statusCode, 429);
  await a.close();
});

test("requests beyond the in-flight bound get 429 at once; health probes never do", async () => {
  const { a, holdUntil } = await app({ maxInFlight: 2, maxPending: 100 });
  let release: () => void = () => {};
  holdUntil(new Promise<void>((r) => (release = r)));
  const held = [sign(a), sign(a)];
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await sign(a)).statusCode, 429);
  assert.equal((await a.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  release();
  for (const r of await Promise.all(held)) assert.equal(r.statusCode, 202);
  assert.equal((await sign(a)).statusCode, 202, "finished requests free their place");
  await a.close();
});

test("limits come from the environment, and bad values are refused", () => {
  assert.deepEqual(backpressureFromEnv({ CUSTODY_MAX_PENDING_OPS: "10", CUSTODY_MAX_IN_FLIGHT: "20" }), {
    maxPending: 10,
    maxInFlight: 20,
  });
  assert.deepEqual(backpressureFromEnv({}), { maxPending: undefined, maxInFlight: undefined });
  assert.throws(() => backpressureFromEnv({ CUSTODY_MAX_PENDING_OPS: "0" }));
});
