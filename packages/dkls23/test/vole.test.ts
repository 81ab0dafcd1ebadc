import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { mod, randomScalar } from "../src/group.js";
import { gadget, voleReceive, voleReceiveFinish, voleSend } from "../src/vole.js";
import { dealBaseOt } from "./helpers.js";

test("VOLE: c_i + d_i = a_i·b", () => {
  const ot = dealBaseOt();
  const tauB = randomBytes(32);
  const tauAB = randomBytes(32);
  const g = gadget(randomBytes(32));
  const a1 = randomScalar();
  const a2 = randomScalar();
  const t0 = performance.now();
  const bob = voleReceive(ot.k0, ot.k1, tauB, g);
  const t1 = performance.now();
  const alice = voleSend(ot.delta, ot.kDelta, tauB, tauAB, g, a1, a2, bob.msg, 2);
  const t2 = performance.now();
  const { d1, d2 } = voleReceiveFinish(bob.state, tauAB, g, alice.msg, 1);
  const t3 = performance.now();
  console.log(`bob1 ${(t1 - t0).toFixed(1)} alice ${(t2 - t1).toFixed(1)} bob2 ${(t3 - t2).toFixed(1)} ms`);
  assert.equal(mod(alice.c1 + d1), mod(a1 * bob.state.b));
  assert.equal(mod(alice.c2 + d2), mod(a2 * bob.state.b));
});

test("VOLE: tampered U row or ã entry is a security abort", () => {
  const ot = dealBaseOt();
  const tauB = randomBytes(32);
  const tauAB = randomBytes(32);
  const g = gadget(randomBytes(32));
  const bob = voleReceive(ot.k0, ot.k1, tauB, g);
  const U = bob.msg.U.slice();
  U[5 * 80 + 3]! ^= 1;
  assert.throws(
    () => voleSend(ot.delta, ot.kDelta, tauB, tauAB, g, 1n, 2n, { ...bob.msg, U }, 2),
    (e) => e instanceof ProtocolError && e.kind === "security" && e.culprits[0] === 2,
  );
  const alice = voleSend(ot.delta, ot.kDelta, tauB, tauAB, g, 1n, 2n, bob.msg, 2);
  const aTilde = alice.msg.aTilde.slice();
  aTilde[100]! ^= 1;
  assert.throws(
    () => voleReceiveFinish(bob.state, tauAB, g, { ...alice.msg, aTilde }, 1),
    (e) => e instanceof ProtocolError && e.kind === "security" && e.culprits[0] === 1,
  );
});
