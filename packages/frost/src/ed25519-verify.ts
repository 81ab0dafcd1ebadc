/**
 * Final-signature verification for the `ed25519` suite on node:crypto (OpenSSL), deciding exactly
 * what @noble/curves' `ed25519.verify(sig, msg, A, { zip215: false })` decides (strict RFC 8032:
 * canonical A and R, S < L, A not of small order, the cofactored equation).
 *
 * OpenSSL checks S < L and the cofactorless equation by re-encoding `[S]B − [k]A` and comparing
 * it with R's bytes. For an A that noble's strict decoding accepts and that is not of small order
 * (checked here once per key, with noble), whatever OpenSSL accepts noble accepts too: R's bytes
 * are then a canonical encoding, k is the same hash, and a zero cofactorless difference is a zero
 * cofactored one. So noble decides only when OpenSSL refuses (a small-order component in R or A,
 * where only the cofactored equation can hold), and a key that fails the check is refused before
 * OpenSSL sees it (OpenSSL would accept forgeries under a small-order A). A FROST signature's R and
 * A lie in the prime-order subgroup, so a valid one costs one OpenSSL verification. Public data
 * only: no I/O, nothing secret.
 * @module
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";

/** OpenSSL keys of raw public keys checked before (null: refused), bounded, oldest out first. */
const keys = new Map<string, KeyObject | null>();
const MAX_KEYS = 1024;

/** The OpenSSL key of `raw` if strict decoding accepts it and it is not of small order, else null. */
function importKey(raw: Uint8Array): KeyObject | null {
  try {
    if (ed25519.Point.fromBytes(raw, false).isSmallOrder()) return null;
    return createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
      format: "jwk",
    });
  } catch {
    return null;
  }
}

/** {@link importKey}, once per key. */
function openSslKey(raw: Uint8Array): KeyObject | null {
  const id = Buffer.from(raw).toString("hex");
  const cached = keys.get(id);
  if (cached !== undefined) return cached;
  const key = importKey(raw);
  if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
  keys.set(id, key);
  return key;
}

/**
 * Strict RFC 8032 verification of `signature` over `message` under the 32-byte key `publicKey`,
 * with noble's `zip215: false` verdict on every input; false on malformed input.
 */
export function verifyEd25519Strict(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  const key = openSslKey(publicKey);
  if (key === null) return false;
  return (
    verify(null, message, key, signature) || ed25519.verify(signature, message, publicKey, { zip215: false })
  );
}
