/**
 * Authentication of every /v1 request: the client's credential (signed by a trusted authority) and
 * its signature over method, path, body hash, timestamp and nonce. Unsigned, badly signed, stale and
 * replayed requests get 401. The verified claims and the signed request are attached to the request
 * (the signed request travels on with the work item so that every party can check it too).
 * @module
 */
import {
  AuthError,
  type CredentialClaims,
  requestFromHeaders,
  type SignedRequest,
  verifyRequest,
} from "@custody/credentials";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Problem } from "../../problems.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The raw body bytes (signed by the client). */
    rawBody?: Uint8Array;
    /** Verified claims of the caller. */
    client?: CredentialClaims;
    /** The caller's signed request. */
    signedRequest?: SignedRequest;
  }
}

/** Remembers nonces so a request is accepted once; shared by every API instance. */
export interface NonceStore {
  /** Returns false when the nonce was seen before. */
  remember(key: string): Promise<boolean>;
}

/** Options of the auth plugin. */
export interface AuthOptions {
  /** Trusted authority public keys (`O...`). */
  readonly authorities: readonly string[];
  readonly nonces: NonceStore;
  /** Allowed clock difference. Default 60 s. */
  readonly maxSkewMs?: number;
}

const PUBLIC = [/^\/healthz$/, /^\/readyz$/, /^\/openapi\.json$/, /^\/docs(\/|$)/];

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
