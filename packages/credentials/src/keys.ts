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

/** A key strict verification may use, with its raw bytes; null for one it refuses. */
interface VerifyingKey {
  readonly raw: Uint8Array;
  readonly key: KeyObject;
}
/** NKeys already decoded and validated (bounded: clients seen repeatedly stay, others rotate out). */
const keys = new Map<string, VerifyingKey | null>();
const MAX_CACHED_KEYS = 1024;

/**
 * Decodes and validates an NKey public key once: CRC, strict RFC 8032 point decoding (canonical
 * y < p, no x = 0 with the sign bit set) and not of small order. Null for a key that fails any.
 */
function verifyingKey(nkey: string): VerifyingKey | null {
  const cached = keys.get(nkey);
  if (cached !== undefined) return cached;
  let entry: VerifyingKey | null = null;
  try {
    const raw = rawPublicKey(nkey);
    if (raw.length === 32 && !ed25519.Point.fromBytes(raw, false).isSmallOrder())
      entry = {
        raw,
        key: createPublicKey({
          key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
          format: "jwk",
        }),
      };
  } catch {
    entry = null;
  }
  if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!);
  keys.set(nkey, entry);
  return entry;
}

/**
 * Verifies a signature by an NKey public key; false on any malformed input. Accepts exactly what
 * `ed25519.verify(sig, msg, key, { zip215: false })` accepts: OpenSSL's check (S < L, the
 * cofactorless equation against R's exact bytes) accepts a subset of it for a validated key, and only
 * when OpenSSL refuses does the slower cofactored check decide (a small-order component in R).
 */
export function verifyWithPublicKey(nkey: string, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const entry = signature.length === 64 ? verifyingKey(nkey) : null;
    if (entry === null) return false;
    return (
      verify(null, message, entry.key, signature) ||
      ed25519.verify(signature, message, entry.raw, { zip215: false })
    );
  } catch {
    return false;
  }
}
