/**
 * @custody/frost: pure FROST threshold Schnorr signatures (RFC 9591) for Ed25519 and BIP340, with
 * a dealerless DKG closed by a transcript confirmation round, two-round signing with per-share
 * verification, and zero-constant proactive refresh. Transport-free: every protocol is a
 * `Step` for core's `Session`.
 * @module
 */
import { bip340Suite, ed25519Suite } from "./ciphersuite.js";
import { createScheme } from "./scheme.js";

export type { SchemeName } from "./ciphersuite.js";
export { FROST_MAX_ROUNDS } from "./scheme.js";
export type { FrostShareFields } from "./share.js";
export { FrostShare, SHARE_VERSION } from "./share.js";

/**
 * FROST(Ed25519, SHA-512). Signatures are standard RFC 8032 Ed25519 (64 bytes) under the 32-byte
 * group public key. Derivation paths are rejected.
 */
export const ed25519Scheme = createScheme(ed25519Suite);

/**
 * FROST over secp256k1 producing BIP340 Schnorr signatures (64 bytes) under the 32-byte x-only
 * group key (untweaked; even-y handled as in noble's `schnorr_FROST`). Derivation paths are
 * rejected for now: BIP32-style derivation is not implemented yet.
 */
export const bip340Scheme = createScheme(bip340Suite);
