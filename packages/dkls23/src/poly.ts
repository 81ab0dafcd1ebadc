/**
 * Shamir/Feldman helpers (spec dkls23.md §6.2): random polynomials, evaluation at party indices,
 * Feldman commitments and their evaluation, and Lagrange coefficients at 0 (§5.1).
 * @module
 */
import { inv, mod, Point, randomScalar } from "./group.js";

/** Random polynomial of degree `t − 1`; `constant` fixes a_0 (0 for refresh). */
export function randomPolynomial(t: number, constant?: bigint): bigint[] {
  const coeffs = Array.from({ length: t }, () => randomScalar());
  if (constant !== undefined) coeffs[0] = constant;
  return coeffs;
}

/** `f(x)` by Horner's rule. */
export function evalPoly(coeffs: readonly bigint[], x: number): bigint {
  let acc = 0n;
  const bx = BigInt(x);
  for (let k = coeffs.length - 1; k >= 0; k--) acc = mod(acc * bx + coeffs[k]!);
  return acc;
}

/**
 * `Σ_k x^k·A_k` for a Feldman commitment vector (public data, variable-time arithmetic).
 * `A` may start at any power: `firstPower` is the exponent of `A[0]`.
 */
export function evalCommitment(A: readonly Point[], x: number, firstPower = 0): Point {
  let acc = Point.ZERO;
  const bx = BigInt(x);
  let pow = 1n;
  for (let k = 0; k < firstPower; k++) pow = mod(pow * bx);
  for (const Ak of A) {
    acc = acc.add(Ak.multiplyUnsafe(pow));
    pow = mod(pow * bx);
  }
  return acc;
}

/**
 * Lagrange coefficient at 0 for `self` within `set`: `Π_{j≠i} j·(j − i)^{-1}`.
 * @throws Error on a zero denominator (duplicate indices).
 */
export function lagrangeAtZero(self: number, set: readonly number[]): bigint {
  let num = 1n;
  let den = 1n;
  for (const j of set) {
    if (j === self) continue;
    const d = mod(BigInt(j - self));
    if (d === 0n) throw new Error("duplicate party index in Lagrange set");
    num = mod(num * BigInt(j));
    den = mod(den * d);
  }
  return mod(num * inv(den));
}
