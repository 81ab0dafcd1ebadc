/**
 * Schnorr proof of knowledge of a DKG participant's constant coefficient (RFC 9591 / FROST
 * KeyGen round 1, step 2), with a challenge bound to the session, the sender, the threshold, the
 * party set and the sender's whole commitment vector, so a proof cannot be replayed across
 * sessions or reattributed to another party (rogue-key defence).
 * @module
 */
import type { PartyId } from "@custody/core";
import type { Ciphersuite, GroupElement } from "../ciphersuite.js";

/** The public statement a proof is bound to. */
export interface PokContext {
  readonly suite: Ciphersuite;
  readonly sessionId: Uint8Array;
  readonly threshold: number;
  readonly parties: readonly PartyId[];
}

/** A proof: commitment `R = k·G` and response `z = k + a0·c`. */
export interface Pok {
  readonly R: GroupElement;
  readonly z: bigint;
}

function challenge(ctx: PokContext, sender: PartyId, commitments: readonly GroupElement[], R: GroupElement) {
  return ctx.suite.hashToScalar("custody/frost/dkg/pok/v1", [
    ctx.suite.name,
    ctx.sessionId,
    sender,
    ctx.threshold,
    Uint8Array.from(ctx.parties),
    ...commitments.map((c) => c.toBytes()),
    R.toBytes(),
  ]);
}

/** Proves knowledge of `a0` with `commitments[0] = a0·G`. */
export function provePok(
  ctx: PokContext,
  sender: PartyId,
  a0: bigint,
  commitments: readonly GroupElement[],
): Pok {
  const { Fn } = ctx.suite;
  const k = ctx.suite.randomScalar();
  const R = ctx.suite.mulBase(k);
  const c = challenge(ctx, sender, commitments, R);
  return { R, z: Fn.add(k, Fn.mul(a0, c)) };
}

/** Checks `z·G = R + c·commitments[0]` (all inputs public, variable time). */
export function verifyPok(
  ctx: PokContext,
  sender: PartyId,
  commitments: readonly GroupElement[],
  pok: Pok,
): boolean {
  const c = challenge(ctx, sender, commitments, pok.R);
  const lhs = ctx.suite.base.multiplyUnsafe(pok.z);
  return lhs.equals(pok.R.add(commitments[0]!.multiplyUnsafe(c)));
}
