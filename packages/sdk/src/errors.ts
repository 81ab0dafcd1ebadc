/**
 * Typed errors of the SDK besides API problems: an operation that did not succeed, and a signer
 * adapter that refused what it was given or what came back.
 * @module
 */
import type { Operation } from "./types.js";

/** An operation that failed, or was still pending when the caller stopped waiting. */
export class OperationError extends Error {
  override readonly name = "OperationError";
  constructor(readonly operation: Operation) {
    const e = operation.error;
    super(
      operation.status === "pending"
        ? `operation ${operation.id} is still pending`
        : `operation ${operation.id} failed: ${e?.code ?? "unknown"}: ${e?.message ?? ""}${
            e && e.culprits.length > 0 ? ` (culprits: ${e.culprits.join(", ")})` : ""
          }`,
    );
  }
}

/** Why a signer adapter refused. */
export type SignerErrorCode =
  /** The key is of another scheme, not active, or lacks what the adapter needs (public key, xpub, Taproot view). */
  | "unsuitable-key"
  /** The input cannot be signed by this adapter (e.g. an unsupported transaction type). */
  | "unsupported"
  /** The signature the API returned does not verify under the expected key, or is malformed. */
  | "bad-signature";

/** A signer adapter's refusal. */
export class SignerError extends Error {
  override readonly name = "SignerError";
  constructor(
    readonly code: SignerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
