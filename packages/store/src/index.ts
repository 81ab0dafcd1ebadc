/**
 * @custody/store: encrypted key-share storage.
 * @module
 */
export { createKekFile, readKek } from "./kek.js";
export { SealError, open, seal } from "./sealed.js";
export type { ShareSlot } from "./sealed.js";
export { ShareStore } from "./share-store.js";
export type { StoredShare } from "./share-store.js";
