/**
 * @custody/store: a party's state — sealed key shares and key states in its own bucket, the ledger
 * of client requests it served, and its local ledger of security decisions.
 * @module
 */
export { createKekFile, readKek } from "./kek.js";
export { LedgerError, PartyLedger } from "./party-ledger.js";
export type { KeyStateSlot, ShareSlot } from "./sealed.js";
export { open, openState, SealError, seal, sealState } from "./sealed.js";
export { ReplayError, ServedLedger } from "./served-ledger.js";
export type { Ban, Confirmed, KeyRef, KeyState, Slot, StoredShare } from "./share-store.js";
export { EpochTakenError, KeyExistsError, ShareStore, StoreConflictError } from "./share-store.js";
