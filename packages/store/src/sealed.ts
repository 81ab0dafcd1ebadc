/**
 * Encryption at rest: XChaCha20-Poly1305 under the party's key-encryption key (KEK), with a fresh
 * random 24-byte nonce per write and associated data that binds the record to its key id, party,
 * epoch, scheme, tenant and session, so a record copied to another slot, key, scheme or tenant
 * account fails to open. The reader supplies every one of these from what it expects (the account
 * it reads from, the work item it serves), never from the record itself.
 * Layout: `version(1) || nonce(24) || ciphertext+tag`.
 * @module
 */
import { frame } from "@custody/core";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "@noble/ciphers/utils.js";

const VERSION = 1;
const NONCE_BYTES = 24;

/** Where a sealed share belongs; all of it is authenticated. */
export interface ShareSlot {
  readonly keyId: string;
  readonly party: number;
  readonly epoch: number;
  readonly scheme: string;
  /** Tenant that owns the key. */
  readonly tenant: string;
  /** Session that produced the share (hex); empty for records not tied to one session. */
  readonly session?: string;
}

/** Where a party's sealed record of a key's state belongs. */
export interface KeyStateSlot {
  readonly keyId: string;
  readonly party: number;
  readonly scheme: string;
  readonly tenant: string;
}

/** Raised when a record fails to decrypt (wrong KEK, tampering, or a record moved to another slot). */
export class SealError extends Error {
  override readonly name = "SealError";
}

const aad = (s: ShareSlot) =>
  frame("custody/share-at-rest/v3", [s.keyId, s.party, s.epoch, s.scheme, s.tenant, s.session ?? ""]);
const stateAad = (s: KeyStateSlot) => frame("custody/key-state/v1", [s.keyId, s.party, s.scheme, s.tenant]);

/** Encrypts a share for `slot`. */
export function seal(kek: Uint8Array, slot: ShareSlot, plaintext: Uint8Array): Uint8Array {
  return sealBytes(kek, aad(slot), plaintext);
}

/** Decrypts a record sealed for `slot`. */
export function open(kek: Uint8Array, slot: ShareSlot, record: Uint8Array): Uint8Array {
  return openBytes(kek, aad(slot), record, `share record for key ${slot.keyId} epoch ${slot.epoch}`);
}

/** Encrypts a key-state record for `slot`. */
export function sealState(kek: Uint8Array, slot: KeyStateSlot, plaintext: Uint8Array): Uint8Array {
  return sealBytes(kek, stateAad(slot), plaintext);
}

/** Decrypts a key-state record sealed for `slot`. */
export function openState(kek: Uint8Array, slot: KeyStateSlot, record: Uint8Array): Uint8Array {
  return openBytes(kek, stateAad(slot), record, `state record of key ${slot.keyId}`);
}

function sealBytes(kek: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (kek.length !== 32) throw new SealError("KEK must be 32 bytes");
  const nonce = randomBytes(NONCE_BYTES);
  const ct = xchacha20poly1305(kek, nonce, ad).encrypt(plaintext);
  const out = new Uint8Array(1 + NONCE_BYTES + ct.length);
  out[0] = VERSION;
  out.set(nonce, 1);
  out.set(ct, 1 + NONCE_BYTES);
  return out;
}

function openBytes(kek: Uint8Array, ad: Uint8Array, record: Uint8Array, what: string): Uint8Array {
  if (kek.length !== 32) throw new SealError("KEK must be 32 bytes");
  if (record.length < 1 + NONCE_BYTES + 16 || record[0] !== VERSION)
    throw new SealError(`unsupported ${what}`);
  try {
    return xchacha20poly1305(kek, record.subarray(1, 1 + NONCE_BYTES), ad).decrypt(
      record.subarray(1 + NONCE_BYTES),
    );
  } catch {
    throw new SealError(`${what} failed authentication`);
  }
}
