/**
 * Feldman verifiable secret sharing over a ciphersuite (RFC 9591 Appendix C): polynomial
 * evaluation, commitment evaluation (`vss_verify`) and Lagrange interpolation in the exponent.
 * Party ids are the evaluation points.
 * @module
 */
import type { PartyId } from "@custody/core";
import type { Ciphersuite, GroupElement } from "./ciphersuite.js";

/** Evaluates `f(x) = Σ coefficients[k]·x^k` in the scalar field (Horner). */
export function evalPolynomial(suite: Ciphersuite, coefficients: readonly bigint[], x: PartyId): bigint {
  const { Fn } = suite;
  const xs = BigInt(x);
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = Fn.add(Fn.mul(acc, xs), coefficients[k]!);
  return acc;
}

/** Evaluates the committed polynomial in the exponent: `Σ commitments[k]·x^k` (public data). */
export function evalCommitment(
  suite: Ciphersuite,
  commitments: readonly GroupElement[],
  x: PartyId,
): GroupElement {
  const xs = BigInt(x);
  let acc = suite.identity;
  for (let k = commitments.length - 1; k >= 0; k--) acc = acc.multiplyUnsafe(xs).add(commitments[k]!);
  return acc;
}

/** Element-wise sum of equally long commitment vectors. */
export function sumCommitments(
  suite: Ciphersuite,
  vectors: readonly (readonly GroupElement[])[],
): GroupElement[] {
  const t = vectors[0]?.length ?? 0;
  const out: GroupElement[] = new Array(t).fill(suite.identity);
  for (const v of vectors) for (let k = 0; k < t; k++) out[k] = out[k]!.add(v[k]!);
  return out;
}

/** Interpolates, at `x`, the polynomial in the exponent through the given `(id, element)` points. */
export function interpolateAt(
  suite: Ciphersuite,
  points: readonly (readonly [PartyId, GroupElement])[],
  x: number,
): GroupElement {
  const { Fn } = suite;
  const at = BigInt(x);
  let acc = suite.identity;
  for (const [i, y] of points) {
    let num = Fn.ONE;
    let den = Fn.ONE;
    for (const [j] of points) {
      if (j === i) continue;
      num = Fn.mul(num, Fn.sub(at, BigInt(j)));
      den = Fn.mul(den, Fn.sub(BigInt(i), BigInt(j)));
    }
    acc = acc.add(y.multiplyUnsafe(Fn.div(num, den)));
  }
  return acc;
}

/** A fresh random polynomial of degree t-1 with the given constant term, and its commitments. */
export function randomPolynomial(
  suite: Ciphersuite,
  t: number,
  constant: bigint,
): { coefficients: bigint[]; commitments: GroupElement[] } {
  const coefficients = [constant];
  for (let k = 1; k < t; k++) coefficients.push(suite.randomScalar());
  return { coefficients, commitments: coefficients.map((c) => suite.mulBase(c)) };
}
