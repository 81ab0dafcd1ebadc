/**
 * Malicious-party harness: a corrupted party flips a byte in, or substitutes invalid values for,
 * each field of each message it sends; the honest receiver must abort with the expected kind and
 * name exactly the tampering sender.
 *
 * DKG (2-of-2) is driven round by round: both parties run the expensive rounds once, and every
 * tamper case is delivered to the honest party's round object at the round where it is checked
 * (a failed `receive` changes no state, so the same round object serves all cases). Signing's
 * malicious-party cases are in `malicious-sign.test.ts`; the end-to-end runLocal variants of the
 * DKG/refresh cases are in `malicious.slow.test.ts`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProtocolMessage, Round, Step } from "@custody/core";
import { ProtocolError } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { commit } from "../src/commit.js";
import { mulG, pointToBytes } from "../src/group.js";
import { ecdsaScheme } from "../src/index.js";
import { makeContext } from "../src/keygen/context.js";
import { encodeProof } from "../src/keygen/round1.js";
import { randomPolynomial } from "../src/poly.js";
import type { EcdsaShare } from "../src/share.js";
import { proveDlog } from "../src/zk/schnorr.js";
import { type Edit, extend, flip, N_BYTES, OFF_CURVE, put, truncate } from "./tamper.js";

// ---------------------------------------------------------------------------------------------
// DKG (2-of-2), round by round. Party 1 is honest (the victim), party 2 tampers.
// Round 1 broadcast: commitment 32. Round 1 P2P: binding 32 ‖ seed commitment 32 ‖ z 33 ‖ K 33 ‖ s 32.
// Round 2 broadcast: salt 32 ‖ A_0, A_1 (33 each) ‖ PoK 65 ‖ cc 32.
// Round 2 P2P: share 32 ‖ seed 32 ‖ seed salt 32 ‖ seed_R 32 ‖ 256 × (u v A0 B0 A1 B1 ‖ e0 z0 z1).
// Round 3 broadcast: digest 32.
const Z = 64; // offset of the base-OT z in the round-1 P2P message
const OT = 128; // offset of the base-OT instances in the round-2 P2P message
const INST = 6 * 33 + 3 * 32;

type R = Round<EcdsaShare>;
const sessionId = randomBytes(32);
const start = (self: number) => ecdsaScheme.keygen({ sessionId, self, parties: [1, 2], threshold: 2 });
const roundOf = (s: Step<EcdsaShare>): R => {
  assert.equal(s.kind, "next");
  return (s as { round: R }).round;
};
const pick = (s: Step<EcdsaShare>, round: number, broadcast: boolean): ProtocolMessage =>
  s.outgoing.find(
    (m) => m.round === round && (m.to === "all") === broadcast && (broadcast || m.to === 1 || m.to === 2),
  )!;
const edited = (m: ProtocolMessage, edit: Edit): ProtocolMessage => ({ ...m, payload: edit(m.payload) });

function expectThrow(f: () => unknown, kind: string, label: string) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof ProtocolError, `${label}: ${String(e)}`);
    assert.equal(e.kind, kind, `${label}: ${e.message}`);
    assert.deepEqual([...e.culprits], [2], `${label}: ${e.message}`);
    return true;
  });
}

// Honest first rounds of both parties, computed once (the base-OT receiver work happens here).
const p1 = start(1);
const p2 = start(2);
const bc1 = pick(p2, 1, true);
const pp1 = pick(p2, 1, false);
let victim2: { step: Step<EcdsaShare>; round: R } | undefined;
let culprit2: Step<EcdsaShare> | undefined;
function round2() {
  if (!victim2) {
    const v = roundOf(p1);
    v.receive(bc1);
    v.receive(pp1);
    const step = v.finalize();
    victim2 = { step, round: roundOf(step) };
    const c = roundOf(p2);
    for (const m of p1.outgoing) c.receive(m);
    culprit2 = c.finalize();
  }
  return { v: victim2.round, victimStep: victim2.step, c: culprit2! };
}

const r1Cases: [string, boolean, Edit, "receive" | "finalize"][] = [
  ["r1 broadcast commitment truncated", true, truncate, "receive"],
  ["r1 P2P truncated", false, truncate, "receive"],
  ["r1 base-OT z off-curve", false, put(Z, OFF_CURVE), "receive"],
  ["r1 base-OT z = identity encoding", false, put(Z, new Uint8Array(33)), "receive"],
  ["r1 base-OT PoK response = n", false, put(Z + 66, N_BYTES), "receive"],
  ["r1 base-OT PoK response", false, flip(Z + 66 + 31), "finalize"],
  ["r1 base-OT PoK commitment negated", false, flip(Z + 33), "finalize"],
];
for (const [label, broadcast, edit, where] of r1Cases) {
  test(`DKG: tampered ${label} → bad-message, culprit named`, () => {
    const v = roundOf(start(1)); // a fresh honest party: round 1 is cheap
    const deliver = () => {
      v.receive(broadcast ? edited(bc1, edit) : bc1);
      v.receive(broadcast ? pp1 : edited(pp1, edit));
    };
    if (where === "receive") expectThrow(deliver, "bad-message", label);
    else {
      deliver();
      expectThrow(() => v.settle!(), "bad-message", `${label} (settled)`);
      expectThrow(() => v.finalize(), "bad-message", label);
    }
  });
}

test("DKG: a tampered r1 binding → mismatch, nobody blamed, before any other check", () => {
  const v = roundOf(start(1));
  v.receive(bc1);
  assert.throws(
    () => v.receive(edited(pp1, flip(5))),
    (e) => e instanceof ProtocolError && e.kind === "mismatch" && e.culprits.length === 0,
  );
});

// A valid point that is not the one sent: it passes parsing, only the OR-proof check catches it.
const OTHER_POINT = pointToBytes(mulG(12345n));
// Checked on receipt ("receive"), or with the base-OT OR-proofs, which the round defers to
// `finalize` (or `settle`, when it cannot finish) to run the counterparties' checks together.
const r2Cases: [string, boolean, Edit, "receive" | "finalize"][] = [
  ["r2 opening salt", true, flip(3), "receive"],
  ["r2 Feldman point A_0", true, flip(32 + 4), "receive"],
  ["r2 Feldman point A_1", true, flip(32 + 33 + 20), "receive"],
  ["r2 PoK", true, flip(32 + 66 + 40), "receive"],
  ["r2 chain-code contribution", true, flip(32 + 66 + 65 + 1), "receive"],
  ["r2 broadcast truncated", true, truncate, "receive"],
  ["r2 broadcast extended", true, extend, "receive"],
  ["r2 secret share = n", false, put(0, N_BYTES), "receive"],
  ["r2 seed opening", false, flip(40), "receive"],
  ["r2 seed salt", false, flip(64 + 3), "receive"],
  ["r2 base-OT v off-curve", false, put(OT + 33, OFF_CURVE), "receive"],
  ["r2 base-OT z1 = n", false, put(OT + 3 * INST + 198 + 64, N_BYTES), "receive"],
  ["r2 P2P truncated", false, truncate, "receive"],
  ["r2 base-OT u", false, put(OT, OTHER_POINT), "finalize"],
  ["r2 base-OT A0 (instance 9)", false, put(OT + 9 * INST + 66, OTHER_POINT), "finalize"],
  ["r2 base-OT B1 (last instance)", false, put(OT + 255 * INST + 165, OTHER_POINT), "finalize"],
  ["r2 base-OT e0", false, flip(OT + 6 * INST + 198 + 31), "finalize"],
  ["r2 base-OT seed_R", false, flip(OT - 32 + 5), "finalize"],
];
for (const [label, broadcast, edit, where] of r2Cases) {
  test(`DKG: tampered ${label} → bad-message, culprit named`, () => {
    const { v, c } = round2();
    const bc = pick(c, 2, true);
    const pp = pick(c, 2, false);
    if (broadcast) expectThrow(() => v.receive(edited(bc, edit)), "bad-message", label);
    else if (where === "receive") {
      v.receive(bc);
      expectThrow(() => v.receive(edited(pp, edit)), "bad-message", label);
    } else {
      v.receive(bc);
      v.receive(edited(pp, edit));
      expectThrow(() => v.finalize(), "bad-message", label);
      expectThrow(() => v.settle!(), "bad-message", `${label} (settled)`);
    }
  });
}

test("DKG: settling round 2 with valid replies blames nobody and leaves it able to finish", () => {
  const { v, c } = round2();
  v.receive(pick(c, 2, true));
  v.receive(pick(c, 2, false));
  v.settle!();
  assert.equal(v.finalize().kind, "next");
});

test("DKG: a share inconsistent with the dealer's Feldman vector → bad-message at finalize", () => {
  const { v, c } = round2();
  v.receive(pick(c, 2, true));
  v.receive(edited(pick(c, 2, false), flip(31)));
  expectThrow(() => v.finalize(), "bad-message", "Feldman");
  expectThrow(() => v.settle!(), "bad-message", "Feldman (settled)");
});

test("DKG: a PoK bound to another party, inside a commitment that opens → bad-message", () => {
  // Party 2 commits in round 1 to a Feldman vector whose PoK was made for party 1's index (a
  // copied proof, as in a rogue-key attempt): the opening is fine, only the PoK check catches it.
  const ctx2 = makeContext(sessionId, 2, [1, 2], 2, { kind: "keygen" });
  const poly = randomPolynomial(2);
  const feldman = poly.map((a) => pointToBytes(mulG(a)));
  const pok = encodeProof(proveDlog([ctx2.sid, 1, "dkg/pok"], poly[0]!, mulG(poly[0]!)));
  const cc = randomBytes(32);
  const { commitment, salt } = commit("dkg/com", ctx2.sid, 2, "all", [...feldman, pok, cc]);
  const v = roundOf(start(1));
  v.receive({ ...bc1, payload: commitment });
  v.receive(pp1);
  const v2 = roundOf(v.finalize());
  const opening = Uint8Array.from([...salt, ...feldman.flatMap((b) => [...b]), ...pok, ...cc]);
  expectThrow(() => v2.receive({ round: 2, from: 2, to: "all", payload: opening }), "bad-message", "PoK");
});

/** Completes the DKG honestly on the same round objects (after the tamper cases above). */
let finished: { v3: R; digest2: ProtocolMessage; share2: EcdsaShare } | undefined;
function complete() {
  if (!finished) {
    const { v, c, victimStep } = round2();
    v.receive(pick(c, 2, true));
    v.receive(pick(c, 2, false));
    const v3step = v.finalize();
    const c2 = roundOf(c);
    for (const m of victimStep.outgoing) c2.receive(m);
    const c3step = c2.finalize();
    const c3 = roundOf(c3step);
    c3.receive(pick(v3step, 3, true));
    const s2 = c3.finalize();
    assert.equal(s2.kind, "done");
    finished = {
      v3: roundOf(v3step),
      digest2: pick(c3step, 3, true),
      share2: (s2 as { result: EcdsaShare }).result,
    };
  }
  return finished;
}

let shares: Map<number, EcdsaShare> | undefined;
/** The shares of the completed DKG (party 1 confirms with party 2's honest digest). */
function dkgShares(): Map<number, EcdsaShare> {
  if (!shares) {
    const { v3, digest2, share2 } = complete();
    v3.receive(digest2);
    const s1 = v3.finalize();
    assert.equal(s1.kind, "done");
    shares = new Map([
      [1, (s1 as { result: EcdsaShare }).result],
      [2, share2],
    ]);
  }
  return shares;
}

test("DKG: tampered r3 confirmation digest → mismatch, culprit named", () => {
  const { v3, digest2 } = complete();
  expectThrow(() => v3.receive(edited(digest2, flip(0))), "mismatch", "confirmation");
  expectThrow(() => v3.receive(edited(digest2, truncate)), "bad-message", "confirmation length");
});

test("DKG: the round-by-round run completes with matching keys", () => {
  const s = dkgShares();
  assert.deepEqual(s.get(1)!.publicKey, s.get(2)!.publicKey);
  assert.deepEqual(s.get(1)!.transcript, s.get(2)!.transcript);
});
