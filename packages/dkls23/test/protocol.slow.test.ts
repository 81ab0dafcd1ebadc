/** Slow protocol flows (run with `npm run test:slow`): (2,3) refresh and the (3,5) flow. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { G, mod } from "../src/group.js";
import { lagrangeAtZero } from "../src/poly.js";
import { checkAndSign, refreshAndSign } from "./flows.js";
import { mustKeygen, refresh, sign } from "./run.js";
import { childKey, verifyIndependently } from "./verify.js";

test("3-of-5: DKG → sign (several subsets, derived) → refresh → sign", () => {
  const shares = mustKeygen(3, 5);
  const pk = shares.get(1)!.publicKey;
  for (const S of [
    [1, 2, 3],
    [1, 4, 5],
    [2, 3, 5],
  ]) {
    const sk = mod(S.reduce((acc, i) => acc + lagrangeAtZero(i, S) * shares.get(i)!.secret, 0n));
    assert.equal(bytesToHex(G.multiply(sk).toBytes(true)), bytesToHex(pk));
  }
  const check = (sh: typeof shares, S: number[], path?: number[]) => {
    const message = utf8ToBytes(`3of5 ${S.join(",")}`);
    const run = sign(sh, S, sha256(message), path);
    assert.equal(run.errors.size, 0, String([...run.errors.values()]));
    const want = path ? childKey(pk, shares.get(1)!.chainCode, path) : pk;
    verifyIndependently(run.results.get(S[0]!)!, message, want);
  };
  check(shares, [1, 2, 3]);
  check(shares, [2, 4, 5], [44, 0]);
  check(shares, [1, 2, 3, 4, 5]);
  const r = refresh(shares);
  assert.equal(r.errors.size, 0, String([...r.errors.values()]));
  for (const s of r.results.values()) {
    assert.deepEqual(s.publicKey, pk);
    assert.deepEqual(s.chainCode, shares.get(1)!.chainCode);
  }
  check(r.results, [3, 4, 5]);
  check(r.results, [1, 3, 5], [44, 0]);
});

test("2-of-3: DKG → sign → refresh → sign (with and without derivation)", () => {
  const subsets = [
    [1, 2],
    [1, 3],
    [2, 3],
    [1, 2, 3],
  ];
  const shares = mustKeygen(2, 3);
  checkAndSign(shares, subsets);
  refreshAndSign(shares, subsets);
});
