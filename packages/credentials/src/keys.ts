/**
 * NKey encodings on top of noble's Ed25519: NKeys (`U…` public keys, `S…` seeds) name the keys,
 * noble signs and verifies (several times faster here than the NKey library's own primitives).
 * @module
 */
import { fromPublic, fromSeed } from "@nats-io/nkeys";
import { ed25519 } from "@noble/curves/ed25519.js";
import { base32nopad } from "@scure/base";

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
  return ed25519.sign(message, base32nopad.decode(seed.trim()).subarray(2, 34));
}

/** Verifies a signature by an NKey public key; false on any malformed input. */
export function verifyWithPublicKey(nkey: string, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return (
      signature.length === 64 && ed25519.verify(signature, message, rawPublicKey(nkey), { zip215: false })
    );
  } catch {
    return false;
  }
}
