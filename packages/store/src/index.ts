/**
 * @custody/store: a party's state — sealed key shares and key states in its own bucket, the ledger
 * of client requests it served, its local ledger of security decisions, and the KEK providers that
 * wrap the data keys of sealed records (PKCS#11, or a file for development).
 * @module
 */
export { FileKek } from "./file-kek.js";
export { createKekFile, readKek } from "./kek.js";
export type { KekConfig } from "./kek-config.js";
export { kekProviderFromConfig } from "./kek-config.js";
export type { KekProvider, KekUnavailableReason, WrappedDek } from "./kek-provider.js";
export { KekConfigError, KekUnavailableError, kekRing } from "./kek-provider.js";
export { LedgerError, PartyLedger } from "./party-ledger.js";
export type { Pkcs11KekConfig } from "./pkcs11-kek.js";
export { createPkcs11Kek, Pkcs11Kek } from "./pkcs11-kek.js";
export type { Pkcs11TokenConfig } from "./pkcs11-token.js";
export type { Kek, KeyStateSlot, ShareSlot } from "./sealed.js";
export { kekProvider, open, openState, SealError, seal, sealState } from "./sealed.js";
export { ReplayError, ServedLedger } from "./served-ledger.js";
export type { Ban, Confirmed, KeyRef, KeyState, Slot, StoredShare } from "./share-store.js";
export { EpochTakenError, KeyExistsError, ShareStore, StoreConflictError } from "./share-store.js";
