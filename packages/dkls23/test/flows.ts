/** Shared protocol flows for the fast and slow protocol tests. */
import assert from "node:assert/strict";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { G, mod } from "../src/group.js";
import { decodeShare, type EcdsaShare, encodeShare } from "../src/index.js";
import { lagrangeAtZero } from "../src/poly.js";
import { refresh, sign } from "./run.js";
import { childKey, verifyIndependently } from "./verify.js";

/** Every t-subset (here: a few) interpolates to the same public key. */
export function checkInterpolation(shares: Map<number, EcdsaShare>, subsets: number[][]) {
  const pk = bytesToHex(shares.get(1)!.publicKey);
  for (const S of subsets) {
    const sk = mod(S.reduce((acc, i) => acc + lagrangeAtZero(i, S) * shares.get(i)!.secret, 0n));
    assert.equal(bytesToHex(G.multiply(sk).toBytes(true)), pk);
  }
}

export function signAndVerify(shares: Map<number, EcdsaShare>, signers: number[], path?: number[]) {
  const message = utf8ToBytes(`pay ${bytesToHex(randomBytes(8))}`);
  const run = sign(shares, signers, sha256(message), path);
  assert.equal(run.errors.size, 0, String([...run.errors.values()]));
  const share = shares.get(signers[0]!)!;
  const expectedKey = path ? childKey(share.publicKey, share.chainCode, path) : share.publicKey;
  const sigs = [...run.results.values()];
  assert.equal(sigs.length, signers.length);
  for (const s of sigs) assert.deepEqual(s.signature, sigs[0]!.signature);
  verifyIndependently(sigs[0]!, message, expectedKey);
}

/**
 * Each pair's zero-share seed is the XOR of both contributions: the same at both ends, never all
 * zero, and another for every pair (a seed anyone could compute would unmask the zero shares).
 */
function checkSeeds(shares: Map<number, EcdsaShare>): void {
  const seeds = new Set<string>();
  for (const [i, s] of shares)
    for (const [j, pair] of s.pairs) {
      assert.deepEqual(pair.seed, shares.get(j)!.pairs.get(i)!.seed, `seed of pair ${i},${j}`);
      assert.ok(
        pair.seed.some((b) => b !== 0),
        `seed of pair ${i},${j} is not zero`,
      );
      seeds.add(bytesToHex(pair.seed));
    }
  const n = shares.size;
  assert.equal(seeds.size, (n * (n - 1)) / 2, "a seed per pair");
}

/** DKG output checks, signing by every listed subset, with derivation and after a storage round trip. */
export function checkAndSign(shares: Map<number, EcdsaShare>, subsets: number[][]): void {
  const pk = shares.get(1)!.publicKey;
  for (const s of shares.values()) {
    assert.deepEqual(s.publicKey, pk);
    assert.deepEqual(s.chainCode, shares.get(1)!.chainCode);
    assert.deepEqual(s.transcript, shares.get(1)!.transcript);
  }
  checkSeeds(shares);
  checkInterpolation(shares, subsets);
  for (const S of subsets) signAndVerify(shares, S);
  signAndVerify(shares, subsets[0]!, [0, 7, 2147483647]);
  // Round trip through the storage encoding.
  const restored = new Map([...shares].map(([p, s]) => [p, decodeShare(encodeShare(s))]));
  signAndVerify(restored, subsets[subsets.length - 1]!);
}

/** Refresh, then checks of the new epoch, signing with it, and refusal to mix epochs. */
export function refreshAndSign(shares: Map<number, EcdsaShare>, subsets: number[][]): void {
  const pk = shares.get(1)!.publicKey;
  const r = refresh(shares);
  assert.equal(r.errors.size, 0, String([...r.errors.values()]));
  const fresh = r.results;
  for (const [p, s] of fresh) {
    assert.deepEqual(s.publicKey, pk);
    assert.deepEqual(s.chainCode, shares.get(p)!.chainCode);
    assert.notEqual(s.secret, shares.get(p)!.secret);
    assert.notDeepEqual(
      s.pairs.get(p === 1 ? 2 : 1)!.delta,
      shares.get(p)!.pairs.get(p === 1 ? 2 : 1)!.delta,
    );
    assert.equal(s.epoch, 1);
    for (const [j, pair] of s.pairs) assert.notDeepEqual(pair.seed, shares.get(p)!.pairs.get(j)!.seed);
  }
  checkSeeds(fresh);
  checkInterpolation(fresh, subsets);
  signAndVerify(fresh, subsets[0]!);
  signAndVerify(fresh, subsets[0]!, [1, 2]);
  // Old and new shares cannot be mixed.
  const mixed = new Map([
    [subsets[0]![0]!, shares.get(subsets[0]![0]!)!],
    [subsets[0]![1]!, fresh.get(subsets[0]![1]!)!],
  ]);
  const bad = sign(mixed, subsets[0]!, sha256(utf8ToBytes("x")));
  assert.equal(bad.results.size, 0);
}
