/**
 * Authentication of every /v1 request: the client's credential (signed by a trusted authority, or
 * delegated by an admin credential that is; neither it nor its issuer's credential revoked) and its signature over the credential's digest, method, canonical request target, body
 * hash, timestamp and nonce. Unsigned, badly signed, stale, replayed and revoked requests get 401;
 * when the revocation list or the nonce store cannot be read, 503 (fail closed). The verified claims
 * and the signed request (with the canonical target) are attached to the request; the signed
 * request travels on with the work item so that every party can check it too.
 * @module
 */
import {
  AuthError,
  requestFromHeaders,
  type SignedRequest,
  type VerifiedCredential,
  verifyRequest,
} from "@custody/credentials";
import type { Revocation } from "@custody/runtime";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Problem } from "../../problems.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The raw body bytes (signed by the client). */
    rawBody?: Uint8Array;
    /** Verified claims of the caller (a delegated credential's own, with its issuer and chain ids). */
    client?: VerifiedCredential;
    /** The caller's signed request. */
    signedRequest?: SignedRequest;
  }
}

/** Remembers nonces so a request is accepted once; shared by every API instance. */
export interface NonceStore {
  /** Returns false when the nonce was seen before. */
  remember(key: string): Promise<boolean>;
}

/** The revocation lists of the tenants this API serves (one per tenant account). */
export interface Revocations {
  /**
   * True when the tenant's list names `credential` or, for a delegated one, its issuer's. Throws a Problem for a tenant not served here
   * (or still attaching), and any other error when the list cannot be read.
   */
  isRevoked(tenant: string, credential: string): Promise<boolean>;
  /** Records in the tenant's list that the credential with `id` is revoked (create-only). */
  revoke(tenant: string, id: string, reason: string): Promise<Revocation>;
}

/** Options of the auth plugin. */
export interface AuthOptions {
  /** Trusted authority public keys (`O...`). */
  readonly authorities: readonly string[];
  readonly nonces: NonceStore;
  readonly revocations: Revocations;
  /** Allowed clock difference. Default 60 s. */
  readonly maxSkewMs?: number;
}

const PUBLIC = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/openapi\.json$/,
  /^\/docs(\/|$)/,
  // The console's page and assets (no data: its data calls are signed /v1 requests).
  /^\/console(\/(console\.js|sign\.js|console\.css|favicon\.svg))?$/,
];

const authPlugin: FastifyPluginAsync<AuthOptions> = async (app, o) => {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body: Buffer, done) => {
    req.rawBody = new Uint8Array(body);
    if (body.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body.toString("utf8")));
    } catch {
      done(new Problem("invalid-request", "body is not valid JSON"), undefined);
    }
  });
  app.addHook("preValidation", async (req: FastifyRequest) => {
    const path = req.url.split("?")[0]!;
    if (PUBLIC.some((r) => r.test(path))) return;
    try {
      const signed = requestFromHeaders(req.headers, req.method, req.url, req.rawBody ?? new Uint8Array());
      const claims = verifyRequest(signed, o.authorities, o.maxSkewMs ?? 60_000);
      // Fail closed: a revocation list that cannot be read accepts nothing (the nonce stays unused).
      const revoked = await o.revocations.isRevoked(claims.tenant, signed.credential).catch((e: unknown) => {
        if (e instanceof Problem) throw e;
        req.log.warn({ err: String(e) }, "revocation list unavailable");
        throw new Problem("unavailable", "the revocation list is unavailable; retry later", {}, 2);
      });
      if (revoked) throw new AuthError("revoked", "credential was revoked");
      // Fail closed: without the nonce store no request is accepted, and the caller may retry.
      const fresh = await o.nonces.remember(`${claims.sub}.${signed.nonce}`).catch((e: unknown) => {
        req.log.warn({ err: String(e) }, "nonce store unavailable");
        throw new Problem("unavailable", "replay protection is unavailable; retry later", {}, 2);
      });
      if (!fresh) throw new AuthError("replayed", "request was already used");
      req.client = claims;
      req.signedRequest = signed;
    } catch (e) {
      if (e instanceof AuthError) throw new Problem("unauthorized", e.message, { reason: e.code });
      throw e;
    }
  });
};

/** Registers authentication for every route outside the public ones. */
export const auth = fp(authPlugin, { name: "custody-auth" });
