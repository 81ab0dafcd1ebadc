import assert from "node:assert/strict";
import { test } from "node:test";
import { randomBytes } from "@noble/hashes/utils.js";
import { baseOtContext, baseOtReceive, baseOtSenderFinish, baseOtSenderStart, bit } from "../src/ot/base-ot.js";
import { KAPPA } from "../src/params.js";

test("base OT: receiver gets k^{Δ_k}, sender both keys", () => {
  const T = baseOtContext(randomBytes(32), 1, 2);
  const delta = randomBytes(KAPPA / 8);
  let t0 = performance.now();
  const { msg, secret } = baseOtSenderStart(T);
  const rec = baseOtReceive(T, delta, msg, 1);
  let t1 = performance.now();
  const { k0, k1 } = baseOtSenderFinish(T, secret, rec.msg, 2);
  let t2 = performance.now();
  console.log("receiver", t1 - t0, "sender", t2 - t1);
  for (let k = 0; k < KAPPA; k++) {
    const mine = rec.keys.subarray(32 * k, 32 * k + 32);
    const want = (bit(delta, k) ? k1 : k0).subarray(32 * k, 32 * k + 32);
    const other = (bit(delta, k) ? k0 : k1).subarray(32 * k, 32 * k + 32);
    assert.deepEqual(mine, want);
    assert.notDeepEqual(mine, other);
  }
});
