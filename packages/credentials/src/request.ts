/**
 * Signed HTTP requests. The client signs, with its NKey, a digest of the exact credential it sends,
 * the method, the canonical request target (path with query, see {@link canonicalPath}), the
 * SHA-256 of the body, a timestamp and a random nonce; the signature, the credential, the timestamp
 * and the nonce travel in headers. The server refuses unsigned, badly signed, stale and replayed
 * requests, and a signature moved onto another credential of the same client key.
 * @module
 */
import { createHash } from "node:crypto";
import { frame, transcriptHash } from "@custody/core";
import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import { type VerifiedCredential, verifyCredential } from "./chain.js";
import { AuthError } from "./errors.js";
import { signWithSeed, verifyWithPublicKey } from "./keys.js";
import { canonicalPath } from "./path.js";

/** Header names (lower case, as Node exposes them). */
export const AUTH_HEADERS = {
  credential: "custody-credential",
  timestamp: "custody-timestamp",
  nonce: "custody-nonce",
  signature: "custody-signature",
} as const;

/** Everything needed to check one request later, e.g. by a party that receives the work item. */
export interface SignedRequest {
  readonly credential: string;
  readonly method: string;
  /** The canonical request target (see {@link canonicalPath}). */
  readonly path: string;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  readonly nonce: string;
  readonly signature: string;
}

/** SHA-256 digest of the exact credential string a request carries, domain-separated. */
export function credentialDigest(credential: string): Uint8Array {
  return transcriptHash("custody/http-request/credential/v2", [credential]);
}

/**
 * The bytes a request signature covers: `frame("custody/http-request/v2", [credential digest,
 * upper-case method, canonical target, SHA-256 of the body, timestamp (u64), nonce])`.
 * @throws AuthError `malformed` for a target that has no canonical form
 */
export function requestSigningBytes(
  credential: string,
  method: string,
  path: string,
  body: Uint8Array,
  timestampMs: number,
  nonce: string,
): Uint8Array {
  return frame("custody/http-request/v2", [
    credentialDigest(credential),
    method.toUpperCase(),
    canonicalPath(path),
    new Uint8Array(createHash("sha256").update(body).digest()),
    timestampMs,
    nonce,
  ]);
}

/**
 * Produces the auth headers for a request. The signature covers the canonical form of `path`;
 * send that form (`canonicalPath(path)`), or any target an HTTP client turns into it.
 */
export function signRequest(
  clientSeed: string,
  credential: string,
  method: string,
  path: string,
  body: Uint8Array,
  nowMs = Date.now(),
): Record<string, string> {
  const nonce = bytesToHex(randomBytes(16));
  const sig = signWithSeed(clientSeed, requestSigningBytes(credential, method, path, body, nowMs, nonce));
  return {
    [AUTH_HEADERS.credential]: credential,
    [AUTH_HEADERS.timestamp]: String(nowMs),
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: Buffer.from(sig).toString("base64url"),
  };
}

/**
 * Reads a SignedRequest out of headers and the request target as received (which it
 * canonicalises); throws `missing`/`malformed`.
 */
export function requestFromHeaders(
  headers: Record<string, string | string[] | undefined>,
  method: string,
  target: string,
  body: Uint8Array,
): SignedRequest {
  const get = (h: string) => {
    const v = headers[h];
    if (v === undefined) throw new AuthError("missing", `missing ${h} header`);
    if (Array.isArray(v)) throw new AuthError("malformed", `repeated ${h} header`);
    return v;
  };
  const timestamp = get(AUTH_HEADERS.timestamp);
  const nonce = get(AUTH_HEADERS.nonce);
  if (!/^\d{1,15}$/.test(timestamp)) throw new AuthError("malformed", "bad timestamp");
  if (!/^[0-9a-f]{32}$/.test(nonce)) throw new AuthError("malformed", "bad nonce");
  return {
    credential: get(AUTH_HEADERS.credential),
    method,
    path: canonicalPath(target),
    body,
    timestampMs: Number(timestamp),
    nonce,
    signature: get(AUTH_HEADERS.signature),
  };
}

/**
 * Verifies the credential (root or delegated: the claims returned are the leaf's, with the chain's
 * credential ids) and the request signature, and that the request is no older (or newer)
 * than `maxSkewMs`. `req.path` must be canonical (as {@link requestFromHeaders} makes it). Replay
 * protection (nonce memory) and revocation are the caller's: see the API's nonce store.
 * @throws AuthError
 */
export function verifyRequest(
  req: SignedRequest,
  authorities: readonly string[],
  maxSkewMs: number,
  nowMs = Date.now(),
): VerifiedCredential {
  const claims = verifyCredential(req.credential, authorities, nowMs);
  if (Math.abs(nowMs - req.timestampMs) > maxSkewMs)
    throw new AuthError("stale", "request timestamp outside the allowed window");
  let sig: Uint8Array;
  try {
    sig = new Uint8Array(Buffer.from(req.signature, "base64url"));
  } catch {
    throw new AuthError("malformed", "bad signature encoding");
  }
  if (canonicalPath(req.path) !== req.path)
    throw new AuthError("malformed", "request target is not canonical");
  const bytes = requestSigningBytes(
    req.credential,
    req.method,
    req.path,
    req.body,
    req.timestampMs,
    req.nonce,
  );
  if (!verifyWithPublicKey(claims.sub, bytes, sig))
    throw new AuthError("bad-signature", "request signature does not verify");
  return claims;
}
