/**
 * Malicious-party harness: a corrupted party flips a byte in, or substitutes invalid values for,
 * each field of each message it sends; the honest receiver must abort with the expected kind and
 * name exactly the tampering sender. Signing is cheap, so every field is covered there; DKG and
 * refresh cases cover each message and each field class (their base OTs make each run seconds).
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import type { ProtocolMessage, Tamper } from "@custody/core";
import { ProtocolError } from "@custody/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import type { EcdsaShare } from "../src/share.js";
import { keygen, mustKeygen, refresh, sign } from "./run.js";

type Edit = (p: Uint8Array) => Uint8Array;
const flip =
  (off: number): Edit =>
  (p) => {
    const q = p.slice();
    q[off]! ^= 0x01;
    return q;
  };
const put =
  (off: number, bytes: Uint8Array): Edit =>
  (p) => {
    const q = p.slice();
    q.set(bytes, off);
    return q;
  };
const truncate: Edit = (p) => p.slice(0, p.length - 1);
const extend: Edit = (p) => Uint8Array.from([...p, 0]);
/** An x-coordinate with no curve point (x = 5 has no square root of x^3 + 7 mod p). */
const OFF_CURVE = Uint8Array.from([2, ...new Uint8Array(31), 5]);
const N_BYTES = Uint8Array.from(
  Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex"),
);

function tamperOnce(round: number, from: number, to: number, edit: Edit, broadcast = false): Tamper {
  return (m: ProtocolMessage, dest) => {
    if (m.round === round && m.from === from && dest === to && (m.to === "all") === broadcast)
      return { ...m, payload: edit(m.payload) };
    return m;
  };
}

function expectAbort(
  run: { errors: Map<number, unknown> },
  victim: number,
  kind: string,
  culprit: number,
  label: string,
) {
  const e = run.errors.get(victim);
  assert.ok(e instanceof ProtocolError, `${label}: victim did not abort (${String(e)})`);
  assert.equal(e.kind, kind, `${label}: ${e.message}`);
  assert.deepEqual([...e.culprits], [culprit], `${label}: ${e.message}`);
}

let shares: Map<number, EcdsaShare>;
before(() => {
  shares = mustKeygen(2, 3);
});

// Sign round 1 (P2P): nonce 32 ‖ commitment 32 ‖ U 20480 ‖ x̃ 16 ‖ t̃ 4096.
// Sign round 2 (P2P): R 33 ‖ salt 32 ‖ pk 33 ‖ Γu 33 ‖ Γv 33 ‖ ψ 32 ‖ ã 49152 ‖ η 32 ‖ μ 32.
// Sign round 3 (broadcast): u 32 ‖ w 32.
const R2 = { R: 0, salt: 33, pk: 65, gu: 98, gv: 131, psi: 164, at: 196, eta: 196 + 49152, mu: 196 + 49184 };
const signCases: [string, number, Edit, string, boolean?][] = [
  ["r1 nonce", 1, flip(0), "bad-message"], // changes τ: OTE check fails at Alice → security; see below
  ["r1 commitment", 1, flip(40), "bad-message"],
  ["r1 U row", 1, flip(64 + 80 * 3 + 5), "security"],
  ["r1 x̃", 1, flip(64 + 20480 + 1), "security"],
  ["r1 t̃", 1, flip(64 + 20480 + 16 + 100), "security"],
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
    const run = sign(shares, [1, 3], sha256(utf8ToBytes(label)), undefined, {
      tamper: tamperOnce(round, 3, 1, edit, broadcast),
    });
    // A changed nonce changes τ_B, so Alice's OTE check fails: a security abort blaming the sender.
    expectAbort(run, 1, label === "r1 nonce" ? "security" : kind, 3, label);
  });
}

test("sign: a flipped ψ or u/w share is caught by the final verification (not attributable)", () => {
  for (const [round, off, b] of [
    [2, R2.psi + 31, false],
    [3, 31, true],
  ] as [number, number, boolean][]) {
    const run = sign(shares, [1, 3], sha256(utf8ToBytes("psi")), undefined, {
      tamper: tamperOnce(round, 3, 1, flip(off), b),
    });
    const e = run.errors.get(1);
    assert.ok(e instanceof ProtocolError && e.kind === "mismatch", String(e));
  }
});

test("sign: a message replayed from another session is refused", () => {
  const message = sha256(utf8ToBytes("replay"));
  const recorded: ProtocolMessage[] = [];
  sign(shares, [1, 3], message, undefined, {
    tamper: (m) => {
      recorded.push(m);
      return m;
    },
  });
  // Same key, same signers, same digest, new session id: party 3's old round-1 message to 1.
  const old = recorded.find((m) => m.round === 1 && m.from === 3 && m.to === 1)!;
  const run = sign(shares, [1, 3], message, undefined, {
    tamper: (m, to) => (m.round === 1 && m.from === 3 && to === 1 ? old : m),
  });
  expectAbort(run, 1, "security", 3, "replayed round 1");
  const old2 = recorded.find((m) => m.round === 2 && m.from === 3 && m.to === 1)!;
  const run2 = sign(shares, [1, 3], message, undefined, {
    tamper: (m, to) => (m.round === 2 && m.from === 3 && to === 1 ? old2 : m),
  });
  expectAbort(run2, 1, "bad-message", 3, "replayed round 2");
});

// DKG (2-of-2). Round 1 broadcast: commitment 32. Round 1 P2P: seed commitment 32 ‖ z 33 ‖ K 33 ‖ s 32.
// Round 2 broadcast: salt 32 ‖ A_0, A_1 (33 each) ‖ PoK 65 ‖ cc 32.
// Round 2 P2P: share 32 ‖ seed 32 ‖ seed salt 32 ‖ seed_R 32 ‖ 256 × (u v A0 B0 A1 B1 ‖ e0 z0 z1).
// Round 3 broadcast: digest 32.
const dkgCases: [string, number, boolean, Edit, string][] = [
  ["r1 broadcast commitment", 1, true, flip(3), "bad-message"],
  ["r1 base-OT z off-curve", 1, false, put(32, OFF_CURVE), "bad-message"],
  ["r1 base-OT PoK response", 1, false, flip(32 + 66 + 31), "bad-message"],
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
