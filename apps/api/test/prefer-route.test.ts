/**
 * `Prefer: wait` on the routes that start an operation, with stand-ins for the use cases: an
 * operation that ends while held is answered 200; a failure while holding answers the accepted
 * operation 202, never an error (the operation runs on, so a client must not retry it as refused);
 * and a held operation counts against the instance's pending bound while it is held.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createAuthority, createClientKey, issueCredential, signRequest } from "@custody/credentials";
import type { FastifyInstance } from "fastify";
import type { OperationRecord } from "../src/domain/records.js";
import { Problem } from "../src/problems.js";
import { appUnderTest } from "./app-under-test.js";

const authority = createAuthority();
const clientKey = createClientKey();
const now = Math.floor(Date.now() / 1000);
const credential = issueCredential(authority.seed, {
  sub: clientKey.publicKey,
  name: "prefer-test",
  role: "admin",
  tenant: "acme",
  keys: ["*"],
  iat: now - 10,
  exp: now + 3600,
});

let seq = 0;
const pending = (): OperationRecord => {
  const t = new Date().toISOString();
  return {
    id: `op_${++seq}`,
    type: "sign",
    status: "pending",
    keyId: "key_a",
    tenant: "acme",
    participants: [1, 2],
    reports: {},
    createdAt: t,
    updatedAt: t,
  };
};

/** What the stand-in's `operation` (the hold) does next: end the operation, fail, or stay pending. */
type Hold = "ends" | "fails" | "pending";
/** The waits the route asked the stand-in for, in ms. */
const waits: number[] = [];
let app: FastifyInstance;

/** A fresh app (empty pending bound of 2) whose hold does `hold`. */
async function start(hold: Hold) {
  await app?.close();
  const service = {
    sign: async () => pending(),
    operation: async (_actor: unknown, id: string, waitMs: number) => {
      waits.push(waitMs);
      if (hold === "fails")
        throw new Problem("unavailable", "the store did not answer in time; retry later", {}, 1);
      if (hold === "pending") {
        await new Promise((r) => setTimeout(r, Math.min(waitMs, 300)));
        return { ...pending(), id };
      }
      return { ...pending(), id, status: "succeeded" };
    },
  };
  app = await appUnderTest({
    service: service as never,
    backpressure: { maxPending: 2 },
    auth: {
      authorities: [authority.publicKey],
      nonces: { remember: async () => true },
      revocations: { isRevoked: async () => false, revoke: async () => ({}) as never },
    },
  });
}
after(() => app?.close());

async function sign(prefer?: string) {
  const body = JSON.stringify({ message: "00" });
  const path = "/v1/keys/key_a/sign";
  const r = await app.inject({
    method: "POST",
    url: path,
    headers: {
      "content-type": "application/json",
      ...(prefer !== undefined ? { prefer } : {}),
      ...signRequest(clientKey.seed, credential, "POST", path, new TextEncoder().encode(body)),
    },
    payload: body,
  });
  return {
    status: r.statusCode,
    body: r.json() as Record<string, unknown>,
    applied: r.headers["preference-applied"],
  };
}

describe("Prefer: wait", { timeout: 30_000 }, () => {
  test("an operation that ends while held is 200; without the preference it is 202 pending", async () => {
    await start("ends");
    waits.length = 0;
    const held = await sign("wait=5");
    assert.deepEqual([held.status, held.body.status, held.applied], [200, "succeeded", "wait=5"]);
    assert.deepEqual(waits, [5000], "held for the preferred seconds");
    const plain = await sign();
    assert.deepEqual([plain.status, plain.body.status, plain.applied], [202, "pending", undefined]);
  });

  test("a failure while holding answers the accepted operation, 202 pending", async () => {
    await start("fails");
    const r = await sign("wait=5");
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.status, "pending");
    assert.match(String(r.body.id), /^op_/);
  });

  test("held operations count against the pending bound while they are held", async () => {
    await start("pending");
    // Two held at once fill the bound of 2: a third is refused while they are held.
    const held = [sign("wait=1"), sign("wait=1")];
    await new Promise((r) => setTimeout(r, 100));
    const third = await sign();
    assert.equal(third.status, 429, JSON.stringify(third.body));
    assert.equal(third.body.type, "urn:custody:problem:rate-limited");
    for (const r of await Promise.all(held)) assert.equal(r.status, 202);
  });
});
