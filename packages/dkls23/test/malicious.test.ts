/**
 * Malicious-party harness: a corrupted party flips a byte in, or substitutes invalid values for,
 * each field of each message it sends; the honest receiver must abort with the expected kind and
 * name exactly the tampering sender.
 *
 * DKG (2-of-2) is driven round by round: both parties run the expensive rounds once, and every
 * tamper case is delivered to the honest party's round object at the round where it is checked
 * (a failed `receive` changes no state, so the same round object serves all cases). The completed
 * DKG then provides the shares for the signing harness, where every field of every message is
 * covered (signing is cheap). The end-to-end runLocal variants of the DKG/refresh cases are in
 * `malicious.slow.test.ts`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProtocolMessage, Round, Step } from "@custody/core";
import { ProtocolError } from "@custody/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { commit } from "../src/commit.js";
import { bytesToBig, mod, mulG, pointToBytes, scalarToBytes } from "../src/group.js";
import { ecdsaScheme } from "../src/index.js";
import { makeContext } from "../src/keygen/context.js";
import { encodeProof } from "../src/keygen/round1.js";
import { randomPolynomial } from "../src/poly.js";
import { EcdsaShare } from "../src/share.js";
import { proveDlog } from "../src/zk/schnorr.js";
import { sign } from "./run.js";
import {
  type Edit,
  expectAbort,
  extend,
  flip,
  N_BYTES,
  OFF_CURVE,
  put,
  tamperOnce,
  truncate,
} from "./tamper.js";

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

const r2Cases: [string, boolean, Edit][] = [
  ["r2 opening salt", true, flip(3)],
  ["r2 Feldman point A_0", true, flip(32 + 4)],
  ["r2 Feldman point A_1", true, flip(32 + 33 + 20)],
  ["r2 PoK", true, flip(32 + 66 + 40)],
  ["r2 chain-code contribution", true, flip(32 + 66 + 65 + 1)],
  ["r2 broadcast truncated", true, truncate],
  ["r2 broadcast extended", true, extend],
  ["r2 secret share = n", false, put(0, N_BYTES)],
  ["r2 seed opening", false, flip(40)],
  ["r2 seed salt", false, flip(64 + 3)],
  ["r2 base-OT u", false, flip(OT + 10)],
  ["r2 base-OT v off-curve", false, put(OT + 33, OFF_CURVE)],
  ["r2 base-OT A0 (instance 9)", false, flip(OT + 9 * INST + 66 + 32)],
  ["r2 base-OT B1 (last instance)", false, flip(OT + 255 * INST + 165 + 32)],
  ["r2 base-OT e0", false, flip(OT + 6 * INST + 198 + 31)],
  ["r2 base-OT z1 = n", false, put(OT + 3 * INST + 198 + 64, N_BYTES)],
  ["r2 base-OT seed_R", false, flip(OT - 32 + 5)],
  ["r2 P2P truncated", false, truncate],
];
for (const [label, broadcast, edit] of r2Cases) {
  test(`DKG: tampered ${label} → bad-message, culprit named`, () => {
    const { v, c } = round2();
    const bc = pick(c, 2, true);
    const pp = pick(c, 2, false);
    if (broadcast) expectThrow(() => v.receive(edited(bc, edit)), "bad-message", label);
    else {
      v.receive(bc);
      expectThrow(() => v.receive(edited(pp, edit)), "bad-message", label);
    }
  });
}

test("DKG: a share inconsistent with the dealer's Feldman vector → bad-message at finalize", () => {
  const { v, c } = round2();
  v.receive(pick(c, 2, true));
  v.receive(edited(pick(c, 2, false), flip(31)));
  expectThrow(() => v.finalize(), "bad-message", "Feldman");
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

// ---------------------------------------------------------------------------------------------
// Signing (2-of-2 shares from the DKG above; party 2 tampers with what it sends to party 1).
// Sign round 1 (P2P): binding 32 ‖ nonce 32 ‖ commitment 32 ‖ U 20480 ‖ x̃ 16 ‖ t̃ 4096.
// Sign round 2 (P2P): R 33 ‖ salt 32 ‖ pk 33 ‖ Γu 33 ‖ Γv 33 ‖ ψ 32 ‖ ã 49152 ‖ η 32 ‖ μ 32.
// Sign round 3 (broadcast): u 32 ‖ w 32.
const R2 = { R: 0, salt: 33, pk: 65, gu: 98, gv: 131, psi: 164, at: 196, eta: 196 + 49152, mu: 196 + 49184 };
const signCases: [string, number, Edit, string, boolean?][] = [
  ["r1 nonce", 1, flip(32), "bad-message"], // changes τ: OTE check fails at Alice → security; see below
  ["r1 commitment", 1, flip(72), "bad-message"],
  ["r1 U row", 1, flip(96 + 80 * 3 + 5), "security"],
  ["r1 x̃", 1, flip(96 + 20480 + 1), "security"],
  ["r1 t̃", 1, flip(96 + 20480 + 16 + 100), "security"],
  ["r1 truncated", 1, truncate, "bad-message"],
  ["r1 extended", 1, extend, "bad-message"],
  ["r2 R byte", 2, flip(R2.R + 5), "bad-message"],
  ["r2 R off-curve", 2, put(R2.R, OFF_CURVE), "bad-message"],
  ["r2 salt", 2, flip(R2.salt), "bad-message"],
  ["r2 pk_j", 2, flip(R2.pk), "security"],
  ["r2 pk_j off-curve", 2, put(R2.pk, OFF_CURVE), "bad-message"],
  ["r2 Γu", 2, flip(R2.gu), "security"],
  ["r2 Γv", 2, flip(R2.gv), "security"],
  ["r2 Γv off-curve", 2, put(R2.gv, OFF_CURVE), "bad-message"],
  ["r2 ψ = n", 2, put(R2.psi, N_BYTES), "bad-message"],
  ["r2 ã entry", 2, flip(R2.at + 32 * 77 + 31), "security"],
  ["r2 ã entry = n", 2, put(R2.at + 32 * 5, N_BYTES), "bad-message"],
  ["r2 η", 2, flip(R2.eta + 31), "security"],
  ["r2 η = n", 2, put(R2.eta, N_BYTES), "bad-message"],
  ["r2 μ", 2, flip(R2.mu), "security"],
  ["r2 truncated", 2, truncate, "bad-message"],
  ["r3 u = n", 3, put(0, N_BYTES), "bad-message", true],
  ["r3 w = n", 3, put(32, N_BYTES), "bad-message", true],
  ["r3 truncated", 3, truncate, "bad-message", true],
];

for (const [label, round, edit, kind, broadcast] of signCases) {
  test(`sign: tampered ${label} → ${label === "r1 nonce" ? "security" : kind}, culprit named`, () => {
    const run = sign(dkgShares(), [1, 2], sha256(utf8ToBytes(label)), undefined, {
      tamper: tamperOnce(round, 2, 1, edit, broadcast),
    });
    // A changed nonce changes τ_B, so Alice's OTE check fails: a security abort blaming the sender.
    expectAbort(run, 1, label === "r1 nonce" ? "security" : kind, 2, label);
  });
}

test("sign: a signer using a wrong key share consistently → pk-sum mismatch naming it", () => {
  // Party 2 feeds sk_2 + λ into the VOLE and sends the matching pk_2: the Γ checks pass, only
  // Σ pk_k == pk' catches it (with two signers the culprit is known).
  const s = dkgShares();
  const off = new EcdsaShare({ ...s.get(2)!, secret: mod(s.get(2)!.secret + 1n) });
  const run = sign(new Map([...s, [2, off]]), [1, 2], sha256(utf8ToBytes("pk sum")));
  expectAbort(run, 1, "mismatch", 2, "pk sum");
});

/** Party 2 replaces its round-3 value at `off` (u: 0, w: 32) by the negation of party 1's. */
function cancelRound3(off: number) {
  let mine: bigint | undefined;
  return sign(dkgShares(), [1, 2], sha256(utf8ToBytes(`cancel ${off}`)), undefined, {
    tamper: (m, to) => {
      if (m.round !== 3) return m;
      if (m.from === 1) mine = bytesToBig(m.payload.subarray(off, off + 32));
      else if (to === 1) return { ...m, payload: put(off, scalarToBytes(mod(-mine!)))(m.payload) };
      return m;
    },
  });
}

test("sign: a rushing signer making u = 0 or s = 0 → typed mismatch, no crash", () => {
  for (const [off, what] of [
    [0, "u = 0"],
    [32, "s = 0"],
  ] as const) {
    const e = cancelRound3(off).errors.get(1);
    assert.ok(e instanceof ProtocolError, `${what}: ${String(e)}`);
    assert.equal(e.kind, "mismatch", e.message);
    assert.equal(e.message, what);
  }
});

test("sign: a flipped ψ or u/w share is caught by the final verification (not attributable)", () => {
  for (const [round, off, b] of [
    [2, R2.psi + 31, false],
    [3, 31, true],
  ] as [number, number, boolean][]) {
    const run = sign(dkgShares(), [1, 2], sha256(utf8ToBytes("psi")), undefined, {
      tamper: tamperOnce(round, 2, 1, flip(off), b),
    });
    const e = run.errors.get(1);
    assert.ok(e instanceof ProtocolError && e.kind === "mismatch", String(e));
  }
});

test("sign: a message replayed from another session is refused", () => {
  const message = sha256(utf8ToBytes("replay"));
  const recorded: ProtocolMessage[] = [];
  sign(dkgShares(), [1, 2], message, undefined, {
    tamper: (m) => {
      recorded.push(m);
      return m;
    },
  });
  // Same key, same signers, same digest, new session id: party 2's old round-1 message to 1.
  // As it is, its binding names the old session: a non-blaming mismatch.
  const old = recorded.find((m) => m.round === 1 && m.from === 2 && m.to === 1)!;
  const stale = sign(dkgShares(), [1, 2], message, undefined, {
    tamper: (m, to) => (m.round === 1 && m.from === 2 && to === 1 ? old : m),
  });
  const e = stale.errors.get(1);
  assert.ok(e instanceof ProtocolError && e.kind === "mismatch" && e.culprits.length === 0, String(e));
  // A malicious party 2 can put the current binding in front of its old OT-extension message; the
  // fresh nonces and sid in τ then make Alice's OTE check fail (security, party 2 blamed).
  const run = sign(dkgShares(), [1, 2], message, undefined, {
    tamper: (m, to) =>
      m.round === 1 && m.from === 2 && to === 1
        ? { ...old, payload: Uint8Array.from([...m.payload.subarray(0, 32), ...old.payload.subarray(32)]) }
        : m,
  });
  expectAbort(run, 1, "security", 2, "replayed round 1");
  const old2 = recorded.find((m) => m.round === 2 && m.from === 2 && m.to === 1)!;
  const run2 = sign(dkgShares(), [1, 2], message, undefined, {
    tamper: (m, to) => (m.round === 2 && m.from === 2 && to === 1 ? old2 : m),
  });
  expectAbort(run2, 1, "bad-message", 2, "replayed round 2");
});
