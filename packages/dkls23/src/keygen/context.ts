/**
 * Shared state of the DKG (spec dkls23.md §6.2) and of the full refresh (§7), which runs the same
 * rounds with `f_i(0) = 0`, keeps pk and chain code, and renews shares, zero-share seeds and all
 * pairwise base OTs.
 * @module
 */
import { assertPartySet, assertThreshold, inline, type ParallelMap, ProtocolError } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { ctEqual } from "../group.js";
import { H } from "../hash.js";
import { NONCE_BYTES } from "../params.js";
import type { EcdsaShare } from "../share.js";

/** Whether the rounds generate a new key or refresh an existing one. */
export type DkgMode = { readonly kind: "keygen" } | { readonly kind: "refresh"; readonly share: EcdsaShare };

/** Immutable parameters of one DKG/refresh run. */
export interface DkgContext {
  readonly mode: DkgMode;
  readonly sid: Uint8Array;
  readonly self: number;
  readonly parties: readonly number[];
  readonly others: readonly number[];
  readonly threshold: number;
  /** Where the base OTs of different counterparties run (round 2). */
  readonly parallel: ParallelMap;
}

/** Number of Feldman points a dealer publishes: t for keygen, t − 1 for refresh (A_0 = O is implicit). */
export function feldmanCount(ctx: DkgContext): number {
  return ctx.mode.kind === "keygen" ? ctx.threshold : ctx.threshold - 1;
}

/**
 * Validates the inputs and derives the run's session id
 * `sid = H(dkg/sid; sessionId, mode, t, parties[, old transcript, epoch])`.
 * @throws ProtocolError `bad-input`.
 */
export function makeContext(
  sessionId: Uint8Array,
  self: number,
  parties: readonly number[],
  threshold: number,
  mode: DkgMode,
  parallel: ParallelMap = inline,
): DkgContext {
  if (!(sessionId instanceof Uint8Array) || sessionId.length !== NONCE_BYTES)
    throw new ProtocolError("bad-input", "sessionId must be 32 bytes");
  const sorted = assertPartySet(parties, 2);
  assertThreshold(threshold, sorted.length);
  if (!sorted.includes(self)) throw new ProtocolError("bad-input", "self is not among the parties");
  const bind =
    mode.kind === "keygen"
      ? ["keygen"]
      : ["refresh", mode.share.transcript, mode.share.publicKey, mode.share.chainCode, mode.share.epoch];
  const sid = H("dkg/sid", [sessionId, threshold, Uint8Array.from(sorted), ...bind]);
  return { mode, sid, self, parties: sorted, others: sorted.filter((p) => p !== self), threshold, parallel };
}

/**
 * The session-input binding party `from` sends to party `to` in round 1: `H(dkg/bind; sid, from,
 * to)`. The sid digests every input of the run (session id, t, parties, mode and, for a refresh,
 * the old epoch's transcript, pk, chain code and epoch).
 */
export function pairBinding(ctx: DkgContext, from: number, to: number): Uint8Array {
  return H("dkg/bind", [ctx.sid, from, to]);
}

/**
 * Compares the binding received from `from` with our own, before any opening, proof or base-OT
 * check runs on its messages. Different inputs are a disagreement, not a fault of the peer: a
 * `mismatch` abort that blames nobody (otherwise its PoKs and openings would fail and name it).
 * @throws ProtocolError `mismatch` without culprits.
 */
export function checkPairBinding(ctx: DkgContext, from: number, got: Uint8Array): void {
  if (!ctEqual(got, pairBinding(ctx, from, ctx.self)))
    throw new ProtocolError("mismatch", `party ${from} runs this DKG/refresh with different inputs`);
}

/** Fresh random bytes (a seed or chain-code contribution). */
export function contribution(): Uint8Array {
  return randomBytes(32);
}
