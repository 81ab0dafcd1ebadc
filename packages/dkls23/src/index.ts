/**
 * @custody/dkls23: pure DKLs23 threshold ECDSA on secp256k1 (DKG, three-round signing, full
 * refresh, BIP32 non-hardened derivation). See PROTOCOL.md and docs spec dkls23.md.
 * @module
 */
export { ecdsaScheme } from "./scheme.js";
export { EcdsaShare, decodeShare, encodeShare } from "./share.js";
export type { EcdsaShareFields, PairState } from "./share.js";
export { deriveChild, xpub, HARDENED } from "./bip32.js";
export type { DerivedKey } from "./bip32.js";
