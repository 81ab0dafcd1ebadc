/**
 * @custody/store: encrypted key-share storage.
 * @module
 */
export { createKekFile, readKek } from "./kek.js";
export type { ShareSlot } from "./sealed.js";
export { open, SealError, seal } from "./sealed.js";
export type { StoredShare } from "./share-store.js";
export { ShareStore } from "./share-store.js";
