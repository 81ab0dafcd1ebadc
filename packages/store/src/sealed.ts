/**
 * Encryption at rest, envelope style: each record is encrypted with XChaCha20-Poly1305 under a fresh
 * random 32-byte data key (DEK), and the DEK is wrapped by the party's {@link KekProvider} (a KEK in
 * an HSM, or a development file). The associated data binds the record to its key id, party,
 * epoch, scheme, tenant and session, so a record copied to another slot, key, scheme or tenant
 * account fails to open. The reader supplies every one of these from what it expects (the account
 * it reads from, the work item it serves), never from the record itself. The DEK is wrapped bound
 * to the same associated data (framed under its own domain), so a KEK unwraps it for that slot only.
 * Layout (version 2): `2 || u8 len || KEK id || u8 len || wrapped DEK || nonce(24) || ciphertext+tag`.
 * Version 1 records (`1 || nonce(24) || ciphertext+tag`, directly under a file KEK) still open.
 * @module
 */
import { frame } from "@custody/core";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "@noble/ciphers/utils.js";
import { FileKek } from "./file-kek.js";
import { checkKekId, type KekProvider } from "./kek-provider.js";
import { SealError } from "./seal-error.js";

export { SealError } from "./seal-error.js";

const DIRECT = 1;
const ENVELOPE = 2;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;

/** A KEK: a provider, or 32 raw bytes (a development file KEK, see {@link FileKek}). */
export type Kek = KekProvider | Uint8Array;

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

const aad = (s: ShareSlot) =>
  frame("custody/share-at-rest/v3", [s.keyId, s.party, s.epoch, s.scheme, s.tenant, s.session ?? ""]);
const stateAad = (s: KeyStateSlot) => frame("custody/key-state/v1", [s.keyId, s.party, s.scheme, s.tenant]);
const wrapAad = (ad: Uint8Array) => frame("custody/sealed-dek/v2", [ad]);

/** The provider for `kek` (raw bytes become a {@link FileKek}). */
export function kekProvider(kek: Kek): KekProvider {
  return kek instanceof Uint8Array ? FileKek.fromKey(kek) : kek;
}

/** Encrypts a share for `slot`. */
export async function seal(kek: Kek, slot: ShareSlot, plaintext: Uint8Array): Promise<Uint8Array> {
  return sealBytes(kekProvider(kek), aad(slot), plaintext);
}

/** Decrypts a record sealed for `slot`. */
export async function open(kek: Kek, slot: ShareSlot, record: Uint8Array): Promise<Uint8Array> {
  return openBytes(
    kekProvider(kek),
    aad(slot),
    record,
    `share record for key ${slot.keyId} epoch ${slot.epoch}`,
  );
}

/** Encrypts a key-state record for `slot`. */
export async function sealState(kek: Kek, slot: KeyStateSlot, plaintext: Uint8Array): Promise<Uint8Array> {
  return sealBytes(kekProvider(kek), stateAad(slot), plaintext);
}

/** Decrypts a key-state record sealed for `slot`. */
export async function openState(kek: Kek, slot: KeyStateSlot, record: Uint8Array): Promise<Uint8Array> {
  return openBytes(kekProvider(kek), stateAad(slot), record, `state record of key ${slot.keyId}`);
}

async function sealBytes(kek: KekProvider, ad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const dek = randomBytes(32);
  try {
    const wrapped = await kek.wrap(dek, wrapAad(ad));
    const id = new TextEncoder().encode(checkKekId(wrapped.kek));
    if (wrapped.bytes.length > 255) throw new SealError("wrapped data key too long");
    const nonce = randomBytes(NONCE_BYTES);
    const ct = xchacha20poly1305(dek, nonce, ad).encrypt(plaintext);
    const out = new Uint8Array(3 + id.length + wrapped.bytes.length + NONCE_BYTES + ct.length);
    out[0] = ENVELOPE;
    out[1] = id.length;
    out.set(id, 2);
    out[2 + id.length] = wrapped.bytes.length;
    out.set(wrapped.bytes, 3 + id.length);
    out.set(nonce, 3 + id.length + wrapped.bytes.length);
    out.set(ct, 3 + id.length + wrapped.bytes.length + NONCE_BYTES);
    return out;
  } finally {
    dek.fill(0);
  }
}

async function openBytes(
  kek: KekProvider,
  ad: Uint8Array,
  record: Uint8Array,
  what: string,
): Promise<Uint8Array> {
  if (record[0] === DIRECT) return openDirect(kek, ad, record, what);
  const parsed = record[0] === ENVELOPE ? parseEnvelope(record) : undefined;
  if (!parsed) throw new SealError(`unsupported ${what}`);
  let dek: Uint8Array;
  try {
    dek = await kek.unwrap(parsed.wrapped, wrapAad(ad));
  } catch (e) {
    if (e instanceof SealError) throw new SealError(`${what} ${e.message}`);
    throw e;
  }
  try {
    if (dek.length !== 32) throw new SealError(`${what} failed authentication`);
    return xchacha20poly1305(dek, parsed.nonce, ad).decrypt(parsed.ciphertext);
  } catch {
    throw new SealError(`${what} failed authentication`);
  } finally {
    dek.fill(0);
  }
}

function openDirect(kek: KekProvider, ad: Uint8Array, record: Uint8Array, what: string): Uint8Array {
  if (record.length < 1 + NONCE_BYTES + TAG_BYTES) throw new SealError(`unsupported ${what}`);
  if (!kek.openDirect)
    throw new SealError(`${what} is a version-1 record: only the file KEK it was sealed under opens it`);
  try {
    return kek.openDirect(ad, record.subarray(1, 1 + NONCE_BYTES), record.subarray(1 + NONCE_BYTES));
  } catch {
    throw new SealError(`${what} failed authentication`);
  }
}

function parseEnvelope(record: Uint8Array) {
  const idLen = record[1] ?? 0;
  const wrappedLen = record[2 + idLen] ?? 0;
  const body = 3 + idLen + wrappedLen;
  if (idLen === 0 || wrappedLen === 0 || record.length < body + NONCE_BYTES + TAG_BYTES) return undefined;
  const kekId = new TextDecoder().decode(record.subarray(2, 2 + idLen));
  if (!/^[\x21-\x7e]+$/.test(kekId)) return undefined;
  return {
    wrapped: { kek: kekId, bytes: record.subarray(3 + idLen, body) },
    nonce: record.subarray(body, body + NONCE_BYTES),
    ciphertext: record.subarray(body + NONCE_BYTES),
  };
}
