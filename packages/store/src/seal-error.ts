/**
 * The sealing layer's error.
 * @module
 */

/** Raised when a record fails to decrypt (wrong KEK, tampering, or a record moved to another slot). */
export class SealError extends Error {
  override readonly name = "SealError";
}
