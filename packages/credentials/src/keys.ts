/**
 * NKey encodings on top of node:crypto's Ed25519 (OpenSSL): NKeys (`U…` public keys, `S…` seeds)
 * name the keys, OpenSSL signs and verifies. Verification is strict RFC 8032, exactly as
 * @noble/curves' `ed25519.verify(…, { zip215: false })` decides (`verifyEd25519` of @custody/core).
 * @module
 */
import { createPrivateKey, sign } from "node:crypto";
import { verifyEd25519 } from "@custody/core";
import { fromPublic, fromSeed } from "@nats-io/nkeys";
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
