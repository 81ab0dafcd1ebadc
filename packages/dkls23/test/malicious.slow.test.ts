/**
 * Slow malicious-party cases (run with `npm run test:slow`): every DKG/refresh tamper case end to
 * end through runLocal, each a full 2-of-2 run with its base OTs. The fast suite covers the same
 * checks round by round in `malicious.test.ts`.
 */
import { test } from "node:test";
import { keygen, mustKeygen, refresh } from "./run.js";
import { type Edit, expectAbort, flip, OFF_CURVE, put, tamperOnce } from "./tamper.js";

// DKG (2-of-2). Round 1 broadcast: commitment 32. Round 1 P2P: binding 32 ‖ seed commitment 32 ‖ z 33 ‖ K 33 ‖ s 32.
// Round 2 broadcast: salt 32 ‖ A_0, A_1 (33 each) ‖ PoK 65 ‖ cc 32.
// Round 2 P2P: share 32 ‖ seed 32 ‖ seed salt 32 ‖ seed_R 32 ‖ 256 × (u v A0 B0 A1 B1 ‖ e0 z0 z1).
// Round 3 broadcast: digest 32.
const dkgCases: [string, number, boolean, Edit, string][] = [
  ["r1 broadcast commitment", 1, true, flip(3), "bad-message"],
  ["r1 base-OT z off-curve", 1, false, put(64, OFF_CURVE), "bad-message"],
  ["r1 base-OT PoK response", 1, false, flip(64 + 66 + 31), "bad-message"],
  ["r2 Feldman point", 2, true, flip(32 + 33 + 4), "bad-message"],
  ["r2 secret share", 2, false, flip(31), "bad-message"],
  ["r2 seed opening", 2, false, flip(40), "bad-message"],
  ["r2 base-OT u", 2, false, flip(128 + 10), "bad-message"],
  ["r3 confirmation digest", 3, true, flip(0), "mismatch"],
];

for (const [label, round, broadcast, edit, kind] of dkgCases) {
  test(`DKG: tampered ${label} → ${kind}, culprit named`, () => {
    const run = keygen(2, 2, { tamper: tamperOnce(round, 2, 1, edit, broadcast) });
    expectAbort(run, 1, kind, 2, label);
  });
}

test("refresh: tampered Feldman point and base-OT proof are attributed", () => {
  const two = mustKeygen(2, 2);
  // Refresh round 2 broadcast: salt 32 ‖ A_1 33 (A_0 = O is implicit).
  const r1 = refresh(two, { tamper: tamperOnce(2, 2, 1, flip(32 + 5), true) });
  expectAbort(r1, 1, "bad-message", 2, "refresh Feldman");
  const r2 = refresh(two, { tamper: tamperOnce(2, 2, 1, flip(128 + 33 * 6 + 7), false) });
  expectAbort(r2, 1, "bad-message", 2, "refresh base OT e0");
});
