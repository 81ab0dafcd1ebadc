/**
 * NKey encodings on top of node:crypto's Ed25519 (OpenSSL): NKeys (`U…` public keys, `S…` seeds)
 * name the keys, OpenSSL signs and verifies. Verification is strict RFC 8032, exactly as
 * @noble/curves' `ed25519.verify(…, { zip215: false })` decides (see {@link verifyWithPublicKey}).
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { fromPublic, fromSeed } from "@nats-io/nkeys";
import { ed25519 } from "@noble/curves/ed25519.js";
import { base32nopad } from "@scure/base";

const PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");

/** The raw 32-byte Ed25519 public key of an NKey public key (checksum verified). */
export function rawPublicKey(nkey: string): Uint8Array {
  fromPublic(nkey); // validates prefix and CRC
  const bytes = base32nopad.decode(nkey);
  return bytes.subarray(1, 33);
}

/** Signs with an NKey seed. */
export function signWithSeed(seed: string, message: Uint8Array): Uint8Array {
  // The seed's raw 32 bytes: base32 decoding of the seed minus its 2 prefix bytes and 2 CRC bytes.
  fromSeed(new TextEncoder().encode(seed.trim())); // validates prefix and CRC
  const raw = base32nopad.decode(seed.trim()).subarray(2, 34);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8, raw]), format: "der", type: "pkcs8" });
  return new Uint8Array(sign(null, message, key));
}

/** Validated Ed25519 keys by hex (bounded: keys seen repeatedly stay, others rotate out). */
const keys = new Map<string, KeyObject | null>();
const MAX_CACHED_KEYS = 1024;

/**
 * The OpenSSL key for a raw Ed25519 public key that strict RFC 8032 decoding accepts (canonical
 * y < p, no x = 0 with the sign bit set, on the curve) and that is not of small order; null
 * otherwise. Validated once per key.
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
 * Strict Ed25519 verification by a raw 32-byte public key; false on any malformed input. Accepts
 * exactly what `ed25519.verify(sig, msg, key, { zip215: false })` of @noble/curves accepts:
 * canonical encodings of A and R, S < L, A not of small order, and the cofactored equation. OpenSSL
 * (S < L, the cofactorless equation against R's exact bytes) accepts a subset of that for a
 * validated A, so only when OpenSSL refuses does the slower cofactored check decide (a small-order
 * component in R). Used for client requests, credentials and every party's protocol messages.
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

/** Verifies a signature by an NKey public key (its checksum and prefix checked); see {@link verifyEd25519}. */
export function verifyWithPublicKey(nkey: string, message: Uint8Array, signature: Uint8Array): boolean {
  let raw: Uint8Array;
  try {
    raw = rawPublicKey(nkey);
  } catch {
    return false;
  }
  return verifyEd25519(raw, message, signature);
}
