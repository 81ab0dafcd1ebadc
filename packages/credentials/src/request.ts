/**
 * Signed HTTP requests. The client signs method, path (with query), the SHA-256 of the body, a
 * timestamp and a random nonce with its NKey; the signature, the credential, the timestamp and the
 * nonce travel in headers. The server refuses unsigned, badly signed, stale and replayed requests.
 * @module
 */
import { frame } from "@custody/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import type { CredentialClaims } from "./credential.js";
import { verifyCredential } from "./credential.js";
import { AuthError } from "./errors.js";
import { signWithSeed, verifyWithPublicKey } from "./keys.js";

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
  readonly path: string;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  readonly nonce: string;
  readonly signature: string;
}

/** The bytes a request signature covers. */
export function requestSigningBytes(
  method: string,
  path: string,
  body: Uint8Array,
  timestampMs: number,
  nonce: string,
) {
  return frame("custody/http-request/v1", [method.toUpperCase(), path, sha256(body), timestampMs, nonce]);
}

/** Produces the auth headers for a request. */
export function signRequest(
  clientSeed: string,
  credential: string,
  method: string,
  path: string,
  body: Uint8Array,
  nowMs = Date.now(),
): Record<string, string> {
  const nonce = bytesToHex(randomBytes(16));
  const sig = signWithSeed(clientSeed, requestSigningBytes(method, path, body, nowMs, nonce));
  return {
    [AUTH_HEADERS.credential]: credential,
    [AUTH_HEADERS.timestamp]: String(nowMs),
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: Buffer.from(sig).toString("base64url"),
  };
}

/** Reads a SignedRequest out of headers; throws `missing`/`malformed`. */
export function requestFromHeaders(
  headers: Record<string, string | string[] | undefined>,
  method: string,
  path: string,
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
    path,
    body,
    timestampMs: Number(timestamp),
    nonce,
    signature: get(AUTH_HEADERS.signature),
  };
}

/**
 * Verifies the credential and the request signature, and that the request is no older (or newer)
 * than `maxSkewMs`. Replay protection (nonce memory) is the caller's: see the API's nonce store.
 * @throws AuthError
 */
export function verifyRequest(
  req: SignedRequest,
  authorities: readonly string[],
  maxSkewMs: number,
  nowMs = Date.now(),
): CredentialClaims {
  const claims = verifyCredential(req.credential, authorities, nowMs);
  if (Math.abs(nowMs - req.timestampMs) > maxSkewMs)
    throw new AuthError("stale", "request timestamp outside the allowed window");
  let sig: Uint8Array;
  try {
    sig = new Uint8Array(Buffer.from(req.signature, "base64url"));
  } catch {
    throw new AuthError("malformed", "bad signature encoding");
  }
  const bytes = requestSigningBytes(req.method, req.path, req.body, req.timestampMs, req.nonce);
  if (!verifyWithPublicKey(claims.sub, bytes, sig))
    throw new AuthError("bad-signature", "request signature does not verify");
  return claims;
}
