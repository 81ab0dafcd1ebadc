/**
 * Malicious co-signer at signing, one check at a time: party 2 tampers with exactly one field of
 * what it sends party 1 (2-of-2 shares from the test dealer, so no DKG runs), and party 1 must
 * abort with the right kind, naming party 2 only where that is provable. The DKG's malicious-party
 * cases are in malicious.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProtocolMessage } from "@custody/core";
import { ProtocolError } from "@custody/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { bytesToBig, mod, scalarToBytes } from "../src/group.js";
import { EcdsaShare } from "../src/share.js";
import { dealShares } from "./dealer.js";
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

const dealt = dealShares(2, 2);
/** The 2-of-2 shares every case signs with. */
const dkgShares = () => dealt;

// ---------------------------------------------------------------------------------------------
// Signing (2-of-2 dealt shares; party 2 tampers with what it sends to party 1).
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

test("sign: with three signers the same wrong share is a mismatch that blames nobody (not provable)", () => {
  // Any of the other two could have sent the bad public key part: naming one would not be provable.
  const s = dealShares(3, 3);
  const off = new EcdsaShare({ ...s.get(2)!, secret: mod(s.get(2)!.secret + 1n) });
  const run = sign(new Map([...s, [2, off]]), [1, 2, 3], sha256(utf8ToBytes("pk sum, three")));
  for (const p of [1, 3]) {
    const e = run.errors.get(p);
    assert.ok(e instanceof ProtocolError && e.kind === "mismatch", String(e));
    assert.deepEqual([...e.culprits], [], `party ${p} names nobody`);
  }
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
