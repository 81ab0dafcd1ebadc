/**
 * Strict RFC 8032 Ed25519 verification on node:crypto (OpenSSL), deciding exactly what
 * @noble/curves' `ed25519.verify(sig, msg, A, { zip215: false })` decides: canonical A and R,
 * S < L, A not of small order, the cofactored equation. One verifier for client requests,
 * credentials, every party's protocol messages and FROST's final signatures. Public data only.
 * @module
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";

/** Validated keys by hex (null: refused), bounded, oldest out first. */
const keys = new Map<string, KeyObject | null>();
const MAX_CACHED_KEYS = 1024;

/**
 * The OpenSSL key for a raw public key that strict decoding accepts (canonical y < p, no x = 0
 * with the sign bit set, on the curve) and that is not of small order; null otherwise. Validated
 * once per key.
 */
function verifyingKey(raw: Uint8Array): KeyObject | null {
  const id = Buffer.from(raw).toString("hex");
  const cached = keys.get(id);
  if (cached !== undefined) return cached;
  let key: KeyObject | null = null;
  try {
    if (raw.length === 32 && !ed25519.Point.fromBytes(raw, false).isSmallOrder())
      key = createPublicKey({
        key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
        format: "jwk",
      });
  } catch {
    key = null;
  }
  if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!);
  keys.set(id, key);
  return key;
}

/**
 * Strict Ed25519 verification by a raw 32-byte public key; false on any malformed input. For a
 * validated A, OpenSSL (S < L, the cofactorless equation against R's exact bytes) accepts a subset
 * of what the strict cofactored check accepts, so that slower check decides only when OpenSSL
 * refuses (a small-order component in R); a key of small order is refused before OpenSSL sees it
 * (OpenSSL would accept forgeries under it).
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = signature.length === 64 ? verifyingKey(publicKey) : null;
    if (key === null) return false;
    return (
      verify(null, message, key, signature) ||
      ed25519.verify(signature, message, publicKey, { zip215: false })
    );
  } catch {
    return false;
  }
}
