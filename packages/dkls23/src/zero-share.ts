/**
 * Zero-sharing (spec dkls23.md §4.3, paper Functionality 3.4): every unordered pair {i, j} holds a
 * secret seed; for a signer set S and session tag, party i computes
 * `ζ_i = Σ_{j∈S, j≠i} sgn(i, j)·HS(zero; sid_z, seed_ij)` with `sgn = −1` if `i < j`, `+1`
 * otherwise, so that `Σ_{i∈S} ζ_i = 0`.
 * @module
 */
import { mod } from "./group.js";
import { HS } from "./hash.js";

/**
 * Party `self`'s zero share for one session.
 * @param seeds pairwise seeds shared with every other signer
 */
export function zeroShare(
  self: number,
  signers: readonly number[],
  seeds: ReadonlyMap<number, Uint8Array>,
  sidZ: Uint8Array,
): bigint {
  let acc = 0n;
  for (const j of signers) {
    if (j === self) continue;
    const seed = seeds.get(j);
    if (!seed) throw new Error(`no zero-share seed for party ${j}`);
    const v = HS("zero", [sidZ, seed]);
    acc += self < j ? -v : v;
  }
  return mod(acc);
}
