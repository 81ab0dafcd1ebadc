/**
 * The round contract every protocol implements: validate each incoming message, then finalize
 * into either the next round or a result. Rounds are pure: no I/O, no clocks.
 * @module
 */
import type { ProtocolMessage } from "./message.js";
import type { PartyId } from "./party.js";

/** What a round waits for from each party in `from`: a broadcast, a point-to-point message, or both. */
export interface RoundExpectation {
  /** Parties whose messages this round needs. */
  readonly from: readonly PartyId[];
  /** A broadcast from each of them. */
  readonly broadcast: boolean;
  /** A point-to-point message from each of them. */
  readonly p2p: boolean;
}

/** One round of a protocol producing `T`. */
export interface Round<T> {
  /** 1-based round number; messages of this round carry it. */
  readonly number: number;
  /** Which messages the round needs before it can finalize. */
  readonly expects: RoundExpectation;
  /**
   * Validates and stores one message of this round. Must throw a `ProtocolError` naming the sender
   * when the content is invalid. Called at most once per (sender, broadcast|p2p).
   */
  receive(msg: ProtocolMessage): void;
  /** Called once all expected messages were received; returns the next step. */
  finalize(): Step<T>;
  /**
   * For a round that defers checks of received messages to `finalize` (to run them together, see
   * `ParallelMap`): runs them on the messages received so far. Called when the round cannot finish
   * (it timed out), so a sender of an invalid message is still named. Must throw a `ProtocolError`
   * naming that sender; must leave the round able to finish if it does not.
   */
  settle?(): void;
}

/** Result of starting a protocol or finalizing a round. */
export type Step<T> =
  | { readonly kind: "next"; readonly round: Round<T>; readonly outgoing: readonly ProtocolMessage[] }
  | { readonly kind: "done"; readonly result: T; readonly outgoing: readonly ProtocolMessage[] };

/** Helper to build a `next` step. */
export function next<T>(round: Round<T>, outgoing: readonly ProtocolMessage[]): Step<T> {
  return { kind: "next", round, outgoing };
}

/** Helper to build a `done` step (a final round may still emit messages, e.g. a confirmation). */
export function done<T>(result: T, outgoing: readonly ProtocolMessage[] = []): Step<T> {
  return { kind: "done", result, outgoing };
}

/**
 * Maps a protocol's result without touching its rounds: the returned step runs the same rounds and
 * finishes with `f(result)`. Lets a caller turn, say, a share object into its encoding.
 */
export function mapStep<T, U>(step: Step<T>, f: (result: T) => U): Step<U> {
  if (step.kind === "done") return { kind: "done", result: f(step.result), outgoing: step.outgoing };
  return { kind: "next", round: mapRound(step.round, f), outgoing: step.outgoing };
}

function mapRound<T, U>(round: Round<T>, f: (result: T) => U): Round<U> {
  return {
    number: round.number,
    expects: round.expects,
    receive: (msg) => round.receive(msg),
    finalize: () => mapStep(round.finalize(), f),
    ...(round.settle && { settle: () => round.settle!() }),
  };
}
