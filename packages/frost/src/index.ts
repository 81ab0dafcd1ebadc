/**
 * @custody/frost: pure FROST threshold Schnorr signatures (RFC 9591) for Ed25519 and BIP340, with
 * a dealerless DKG closed by a transcript confirmation round, two-round signing with per-share
 * verification, zero-constant proactive refresh, and (bip340) BIP32 non-hardened derivation from
 * a jointly generated chain code and BIP341 Taproot output keys. Transport-free: every protocol is a `Step` for core's `Session`.
 * @module
 */
import { bip340Suite, ed25519Suite } from "./ciphersuite.js";
import { createScheme } from "./scheme.js";

export type { Bip340Child } from "./bip32.js";
export { assertDerivationPath, deriveBip340Child, HARDENED_OFFSET, MAX_PATH_LENGTH } from "./bip32.js";
export type { SchemeName } from "./ciphersuite.js";
export { FROST_MAX_ROUNDS, type FrostScheme } from "./scheme.js";
export type { FrostShareFields } from "./share.js";
export { CHAIN_CODE_LENGTH, FrostShare, SHARE_VERSION } from "./share.js";
export type { FrostSignParams } from "./sign/round1.js";
export type { TaprootKey, TaprootOption } from "./sign/taproot.js";
export { assertTaprootOption, taprootOutputKey } from "./sign/taproot.js";

/**
 * FROST(Ed25519, SHA-512). Signatures are standard RFC 8032 Ed25519 (64 bytes) under the 32-byte
 * group public key. Derivation paths are rejected.
 */
export const ed25519Scheme = createScheme(ed25519Suite);

/**
 * FROST over secp256k1 producing BIP340 Schnorr signatures (64 bytes) under the 32-byte x-only
 * group key (even-y handled as in noble's `schnorr_FROST`). The DKG also yields a joint 32-byte
 * chain code (`info(share).chainCode`); `sign` takes an optional BIP32 non-hardened path and then
 * signs under the child key `CKDpub(P, chainCode, path)` (standard BIP32 on the full 33-byte group
 * key), returning the child's x-only key as `publicKey`. With `taproot` it signs for the BIP341
 * output key of that (child) key instead (BIP86 without a merkle root) and returns the x-only
 * output key.
 */
export const bip340Scheme = createScheme(bip340Suite);
