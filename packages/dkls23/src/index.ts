/**
 * @custody/dkls23: pure DKLs23 threshold ECDSA on secp256k1 (DKG, three-round signing, full
 * refresh, BIP32 non-hardened derivation). See PROTOCOL.md and docs spec dkls23.md.
 * @module
 */

export type { DerivedKey } from "./bip32.js";
export { deriveChild, HARDENED, xpub } from "./bip32.js";
export { ecdsaScheme } from "./scheme.js";
export type { EcdsaShareFields, PairState } from "./share.js";
export { decodeShare, EcdsaShare, encodeShare } from "./share.js";
