/**
 * Typed protocol failures. Every abort carries a kind and, when a peer is at fault, the culprits.
 * @module
 */
import type { PartyId } from "./party.js";

/**
 * Why a protocol stopped.
 * - `bad-input`: the local caller passed invalid arguments (no peer at fault).
 * - `bad-message`: a peer sent a malformed or invalid message; the culprit is named.
 * - `mismatch`: parties disagree on a transcript or public value; culprits named where known.
 * - `security`: a cryptographic consistency check failed in a way that signals an active attack
 *   (e.g. an OT-extension or VOLE check). Never retried automatically.
 * - `timeout`: a round did not complete in time; culprits are the parties that stayed silent.
 * - `internal`: a local invariant failed.
 */
export type AbortKind = "bad-input" | "bad-message" | "mismatch" | "security" | "timeout" | "internal";

/** Error thrown by protocol code. `culprits` lists the parties blamed for the abort (maybe empty). */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  /** Parties blamed for this abort, sorted, without duplicates. */
  readonly culprits: readonly PartyId[];

  /**
   * @param reason what failed; `message` adds the culprits to it
   */
  constructor(
    readonly kind: AbortKind,
    readonly reason: string,
    culprits: readonly PartyId[] = [],
    options?: ErrorOptions,
  ) {
    super(culprits.length > 0 ? `${reason} (culprit: ${culprits.join(", ")})` : reason, options);
    this.culprits = [...new Set(culprits)].sort((a, b) => a - b);
  }

  /** Whether retrying the same job could succeed. `security` and `bad-input` aborts are final. */
  get retryable(): boolean {
    return this.kind !== "security" && this.kind !== "bad-input";
  }
}

/** Shorthand: throw a `bad-message` ProtocolError blaming `culprit` unless `cond` holds. */
export function check(cond: unknown, culprit: PartyId, message: string): asserts cond {
  if (!cond) throw new ProtocolError("bad-message", message, [culprit]);
}
