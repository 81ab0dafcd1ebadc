/**
 * Request authentication in the HTTP app, one rule at a time: public routes only are open; an
 * unsigned, stale, tampered, foreign-authority or replayed request is 401 with its reason; a
 * revoked credential is 401 `revoked`; an unreadable revocation list or nonce store is 503 and
 * leaves the nonce unused (fail closed, nothing lost). The nonce store and revocation list are
 * in-memory stand-ins of the stores the API runs on (the e2e suites use the real ones).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createAuthority, createClientKey, issueCredential, signRequest } from "@custody/credentials";
import type { Revocation } from "@custody/runtime";
import type { FastifyInstance } from "fastify";
import type { Actor } from "../src/domain/service.js";
import type { NonceStore, Revocations } from "../src/http/plugins/auth.js";
import { Problem } from "../src/problems.js";
import { appUnderTest } from "./app-under-test.js";

const authority = createAuthority();
const clientKey = createClientKey();
const now = Math.floor(Date.now() / 1000);
const credential = issueCredential(authority.seed, {
  sub: clientKey.publicKey,
  name: "auth-test",
  role: "admin",
  tenant: "acme",
  keys: ["*"],
  iat: now - 10,
  exp: now + 3600,
});

/** Nonces in memory; `failing` makes it throw as an unreachable store would. */
class Nonces implements NonceStore {
  readonly seen = new Set<string>();
  failing = false;
  async remember(key: string): Promise<boolean> {
    if (this.failing) throw new Error("nonce store timed out");
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

/** A revocation list in memory; `failure` is thrown by every read when set. */
class List implements Revocations {
  readonly revoked = new Set<string>();
  failure: unknown;
  async isRevoked(_tenant: string, credential: string): Promise<boolean> {
    if (this.failure !== undefined) throw this.failure;
    return this.revoked.has(credential);
  }
  async revoke(tenant: string, id: string, reason: string): Promise<Revocation> {
    return { id, tenant, revokedAt: new Date().toISOString(), reason } as unknown as Revocation;
  }
}

const nonces = new Nonces();
const list = new List();
const callers: Actor[] = [];
const bodies: unknown[] = [];
let app: FastifyInstance;

before(async () => {
  const service = {
    keys: async (actor: Actor) => {
      callers.push(actor);
      return [];
    },
    createKey: async (actor: Actor, body: unknown) => {
      callers.push(actor);
      bodies.push(body);
      throw new Problem("no-quorum", "stub: no parties");
    },
    refresh: async (actor: Actor) => {
      callers.push(actor);
      throw new Problem("no-quorum", "stub: no parties");
    },
  };
  app = await appUnderTest({
    service: service as never,
    auth: { authorities: [authority.publicKey], nonces, revocations: list },
  });
});
after(() => app?.close());

const signed = (path = "/v1/keys", method = "GET", body = "", at = Date.now(), cred = credential) =>
  signRequest(clientKey.seed, cred, method, path, new TextEncoder().encode(body), at);

async function call(headers: Record<string, string>, path = "/v1/keys", method = "GET", body?: string) {
  const r = await app.inject({
    method: method as "GET",
    url: path,
    headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    payload: body,
  });
  return { status: r.statusCode, body: r.json() as Record<string, unknown>, headers: r.headers };
}

const unauthorized = (r: Awaited<ReturnType<typeof call>>, reason: string) => {
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.type, "urn:custody:problem:unauthorized");
  assert.equal(r.body.reason, reason);
};

describe("request authentication", { timeout: 30_000 }, () => {
  test("public routes need no signature; every /v1 route does", async () => {
    assert.equal((await call({}, "/healthz")).status, 200);
    assert.equal((await call({}, "/readyz")).status, 200);
    assert.equal((await app.inject({ url: "/openapi.json" })).statusCode, 200);
    unauthorized(await call({}), "missing");
    unauthorized(await call({}, "/v1/operations/op_x"), "missing");
    // A public-looking prefix is not public.
    unauthorized(await call({}, "/healthz/../v1/keys"), "missing");
  });

  test("a signed request is accepted once, with the caller's claims", async () => {
    const before = callers.length;
    const h = signed();
    const ok = await call(h);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(callers.length, before + 1);
    assert.equal(callers.at(-1)!.claims.sub, clientKey.publicKey);
    assert.equal(callers.at(-1)!.claims.tenant, "acme");
    unauthorized(await call(h), "replayed");
    // Two fresh requests of the same client are both accepted.
    assert.equal((await call(signed())).status, 200);
    assert.equal((await call(signed())).status, 200);
  });

  test("stale, tampered and foreign-authority requests are refused with their reason", async () => {
    unauthorized(await call(signed("/v1/keys", "GET", "", Date.now() - 120_000)), "stale");
    unauthorized(await call(signed("/v1/keys", "GET", "", Date.now() + 120_000)), "stale");
    unauthorized(await call(signed("/v1/keys?x=1")), "bad-signature");
    const stranger = createAuthority();
    const foreign = issueCredential(stranger.seed, {
      sub: clientKey.publicKey,
      name: "x",
      role: "admin",
      tenant: "acme",
      keys: ["*"],
      iat: now - 10,
      exp: now + 3600,
    });
    unauthorized(await call(signed("/v1/keys", "GET", "", Date.now(), foreign)), "bad-credential");
    const body = JSON.stringify({ scheme: "ed25519", threshold: 2, parties: 3 });
    const h = signed("/v1/keys", "POST", body);
    unauthorized(await call(h, "/v1/keys", "POST", body.replace("2", "3")), "bad-signature");
  });

  test("a revoked credential is 401 revoked, and the refused request's nonce stays unused", async () => {
    const h = signed();
    list.revoked.add(credential);
    try {
      unauthorized(await call(h), "revoked");
    } finally {
      list.revoked.delete(credential);
    }
    assert.equal((await call(h)).status, 200);
  });

  test("an unreadable revocation list or nonce store is 503 (fail closed); the request can be retried", async () => {
    const h = signed();
    list.failure = new Error("bucket timed out");
    let r: Awaited<ReturnType<typeof call>>;
    try {
      r = await call(h);
    } finally {
      list.failure = undefined;
    }
    assert.equal(r.status, 503);
    assert.equal(r.body.type, "urn:custody:problem:unavailable");
    assert.equal(r.headers["retry-after"], "2");
    nonces.failing = true;
    try {
      r = await call(h);
    } finally {
      nonces.failing = false;
    }
    assert.equal(r.status, 503);
    assert.equal(r.body.type, "urn:custody:problem:unavailable");
    assert.equal((await call(h)).status, 200, "neither failure used the nonce up");
    // A tenant the API does not serve keeps its own problem.
    list.failure = new Problem("unknown-tenant", "tenant acme is not served by this API");
    try {
      r = await call(signed());
    } finally {
      list.failure = undefined;
    }
    assert.equal(r.body.type, "urn:custody:problem:unknown-tenant");
  });

  test("a signed body reaches the route parsed; an empty JSON body is no body", async () => {
    const body = JSON.stringify({ scheme: "ed25519", threshold: 2, parties: 3, label: "x" });
    const created = await call(signed("/v1/keys", "POST", body), "/v1/keys", "POST", body);
    assert.equal(created.body.type, "urn:custody:problem:no-quorum", "authenticated and validated");
    assert.deepEqual(bodies.at(-1), JSON.parse(body));
    const before = callers.length;
    const refreshed = await call(
      signed("/v1/keys/k_1/refresh", "POST", ""),
      "/v1/keys/k_1/refresh",
      "POST",
      "",
    );
    assert.equal(refreshed.body.type, "urn:custody:problem:no-quorum");
    assert.equal(callers.length, before + 1);
  });

  test("a body that is not JSON is 400; the raw bytes are what the signature covers", async () => {
    const h = signed("/v1/keys", "POST", "{not json");
    const r = await call(h, "/v1/keys", "POST", "{not json");
    assert.equal(r.status, 400);
    assert.equal(r.body.type, "urn:custody:problem:invalid-request");
    // Same JSON value, other bytes (spacing): the signature no longer matches.
    const body = JSON.stringify({ scheme: "ed25519", threshold: 2, parties: 3 });
    unauthorized(
      await call(
        signed("/v1/keys", "POST", body),
        "/v1/keys",
        "POST",
        JSON.stringify(JSON.parse(body), null, 1),
      ),
      "bad-signature",
    );
  });
});
