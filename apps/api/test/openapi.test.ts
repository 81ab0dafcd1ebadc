/**
 * The OpenAPI document a client generator or a reader relies on: every operation has its stable
 * operationId, the signed-request headers are the security requirement of every /v1 route (health
 * routes are open), every response is described (problem statuses name their problem types), and
 * the description says how to authenticate.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { OPERATION_IDS } from "../src/http/openapi.js";
import { appUnderTest } from "./app-under-test.js";

let app: FastifyInstance;
let doc: {
  info: { description: string };
  components: {
    securitySchemes: Record<string, { type: string; in: string; name: string; description?: string }>;
  };
  security: Record<string, string[]>[];
  paths: Record<
    string,
    Record<
      string,
      { operationId?: string; security?: unknown[]; responses: Record<string, { description?: string }> }
    >
  >;
};

before(async () => {
  app = await appUnderTest({ ready: () => ({ ok: true, liveParties: [] }) });
  await app.ready();
  doc = app.swagger() as unknown as typeof doc;
});
after(() => app?.close());

/** Every documented operation as `METHOD fastify-path`. */
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      key: `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`,
      op,
    })),
  );

test("every route has its stable, unique operationId", () => {
  const ops = operations();
  assert.ok(ops.length >= 10);
  for (const { key, op } of ops) assert.equal(op.operationId, OPERATION_IDS[key], `operationId of ${key}`);
  const ids = ops.map((o) => o.op.operationId);
  assert.equal(new Set(ids).size, ids.length);
  // No stale entries: every id in the table is a route.
  assert.deepEqual(Object.keys(OPERATION_IDS).sort(), ops.map((o) => o.key).sort());
});

test("the signed-request headers are the security requirement; health routes are open", () => {
  const headers = ["custody-credential", "custody-timestamp", "custody-nonce", "custody-signature"];
  for (const h of headers)
    assert.deepEqual(doc.components.securitySchemes[h], {
      type: "apiKey",
      in: "header",
      name: h,
      description: doc.components.securitySchemes[h]!.description as never,
    });
  assert.deepEqual(Object.keys(doc.security[0]!).sort(), [...headers].sort());
  for (const { key, op } of operations()) {
    if (key === "GET /healthz" || key === "GET /readyz") assert.deepEqual(op.security, [], key);
    else assert.equal(op.security, undefined, `${key} uses the document's requirement`);
  }
  assert.match(doc.info.description, /## Authentication/);
  assert.match(doc.info.description, /docs\/api-auth\.md/);
});

test("every response is described; problem statuses name their problem types", () => {
  for (const { key, op } of operations())
    for (const [status, r] of Object.entries(op.responses)) assert.ok(r.description, `${key} ${status}`);
  const sign = doc.paths["/v1/keys/{id}/sign"]!.post!;
  assert.match(sign.responses["202"]!.description!, /^Accepted/);
  assert.match(sign.responses["401"]!.description!, /urn:custody:problem:unauthorized/);
  assert.match(sign.responses["503"]!.description!, /no-quorum/);
  assert.match(sign.responses["503"]!.description!, /unavailable/);
  assert.match(sign.responses["422"]!.description!, /idempotency-key-reused/);
});
