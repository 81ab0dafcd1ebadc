/**
 * Runtime failures that are not protocol faults: lost peers, a broken connection, a full stream.
 * Workers treat every `TransportError` as retryable.
 * @module
 */

/** Why a session or a publish failed outside the protocol's maths. */
export type TransportErrorCode =
  | "join-timeout"
  | "peer-restarted"
  | "peer-aborted"
  | "send-failed"
  | "disconnected"
  | "slow-consumer"
  | "publish-failed"
  | "aborted";

/** A retryable runtime failure, naming the parties involved where known. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly retryable = true;
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    readonly culprits: readonly number[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
