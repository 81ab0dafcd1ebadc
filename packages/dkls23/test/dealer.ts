/**
 * Test-only trusted dealer: t-of-n DKLs23 shares without running the DKG (no base OTs), for
 * signing tests that need more than the two parties of the shared DKG. Never used by the package.
 */
import { randomBytes } from "@noble/hashes/utils.js";
import { mulG, pointToBytes } from "../src/group.js";
import { evalPoly, randomPolynomial } from "../src/poly.js";
import { EcdsaShare, type PairState } from "../src/share.js";
import { dealBaseOt } from "./helpers.js";
import { range } from "./run.js";

/** Deals a random key as t-of-n shares with fresh pairwise seeds and base-OT correlations. */
export function dealShares(t: number, n: number): Map<number, EcdsaShare> {
  const parties = range(n);
  const poly = randomPolynomial(t);
  const publicKey = pointToBytes(mulG(poly[0]!));
  const chainCode = randomBytes(32);
  const transcript = randomBytes(32);
  const secrets = new Map(parties.map((p) => [p, evalPoly(poly, p)]));
  const publicShares = new Map(parties.map((p) => [p, pointToBytes(mulG(secrets.get(p)!))]));
  // ot[i][j]: the correlation in which i is the OTE sender (Alice) and j the receiver (Bob).
  const ot = new Map(parties.map((i) => [i, new Map(parties.map((j) => [j, dealBaseOt()]))]));
  const seeds = new Map<string, Uint8Array>();
  const seed = (i: number, j: number) => {
    const k = `${Math.min(i, j)}:${Math.max(i, j)}`;
    if (!seeds.has(k)) seeds.set(k, randomBytes(32));
    return seeds.get(k)!;
  };
  return new Map(
    parties.map((i) => {
      const pairs = new Map<number, PairState>();
      for (const j of parties) {
        if (j === i) continue;
        const mine = ot.get(i)!.get(j)!;
        const theirs = ot.get(j)!.get(i)!;
        pairs.set(j, {
          seed: seed(i, j),
          delta: mine.delta,
          kDelta: mine.kDelta,
          k0: theirs.k0,
          k1: theirs.k1,
        });
      }
      const share = new EcdsaShare({
        threshold: t,
        parties,
        self: i,
        secret: secrets.get(i)!,
        publicKey,
        chainCode,
        publicShares,
        pairs,
        transcript,
        epoch: 0,
      });
      return [i, share];
    }),
  );
}
