/**
 * Fiat–Shamir Schnorr proof of knowledge of a discrete logarithm (spec dkls23.md §4.2), with the
 * challenge bound to the session, the prover, the purpose and the statement:
 * `e = HS(pok; ctx…, X, K)`, `z = k + e·x`; the verifier checks `z·G == K + e·X`.
 * @module
 */
import type { HashPart } from "@custody/core";
import { G, mod, mulG, type Point, pointToBytes, randomScalar } from "../group.js";
import { HS } from "../hash.js";

/** A proof: commitment point `K` and response `z`. */
export interface SchnorrProof {
  readonly K: Point;
  readonly z: bigint;
}

/** Encoded size of a proof: 33-byte point + 32-byte scalar. */
export const SCHNORR_PROOF_BYTES = 65;

function challenge(ctx: readonly HashPart[], X: Point, K: Point): bigint {
  return HS("pok", [...ctx, pointToBytes(X), pointToBytes(K)]);
}

/**
 * Proves knowledge of `x` with `X = x·G`.
 * @param ctx context binding the proof (session id, prover index, purpose)
 */
export function proveDlog(ctx: readonly HashPart[], x: bigint, X: Point): SchnorrProof {
  const k = randomScalar();
  const K = mulG(k);
  const e = challenge(ctx, X, K);
  return { K, z: mod(k + e * x) };
}

/** Verifies a proof for statement `X` (already decoded and checked not to be the identity). */
export function verifyDlog(ctx: readonly HashPart[], X: Point, proof: SchnorrProof): boolean {
  const e = challenge(ctx, X, proof.K);
  return G.multiplyUnsafe(proof.z).equals(proof.K.add(X.multiplyUnsafe(e)));
}
