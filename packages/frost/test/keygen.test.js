/**
 * DKG: malformed and malicious round messages abort every receiver with a ProtocolError naming
 * exactly the sender (security.md §1.3 deserialisation table, §1.4 rogue key / PoK binding,
 * §1.6 replay, §1.9 confirmation).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Writer } from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import { badPoints, badScalars, bumpScalar, extend, flip, patch, randomPoint, rewrite, truncate, } from "./bad.js";
import { assertAbort, keygen, range, sid } from "./helpers.js";
const T = 2;
const N = 3;
const parties = range(N);
for (const [scheme, suite] of [
    [ed25519Scheme, ed25519Suite],
    [bip340Scheme, bip340Suite],
]) {
    const PL = suite.pointLength;
    const offC = (k) => 4 + k * PL;
    const offR = offC(T);
    const offZ = offR + PL;
    /** Tampers with party 2's round-1 broadcast; parties 1 and 3 must abort blaming 2. */
    const round1 = (f, reason) => {
        const run = keygen(scheme, parties, T, { tamper: rewrite(1, 2, f) });
        for (const p of [1, 3]) {
            const err = assertAbort(run, p, "bad-message", [2]);
            if (reason)
                assert.match(err.message, reason);
        }
        assert.equal(run.results.size, 0);
    };
    const pokFails = /proof of knowledge/;
    describe(`${scheme.name} DKG round 1 (commitments + proof of knowledge)`, () => {
        for (const [label, bytes] of badPoints(suite)) {
            it(`rejects commitment[0] = ${label}`, () => round1((p) => patch(p, offC(0), bytes)));
        }
        it("rejects an invalid element in commitment[1] and in the proof's R", () => {
            const [, bad] = badPoints(suite)[0];
            round1((p) => patch(p, offC(1), bad));
            round1((p) => patch(p, offR, bad));
        });
        it("rejects a valid but substituted commitment[0] (proof no longer verifies)", () => {
            const other = randomPoint(suite);
            round1((p) => patch(p, offC(0), other), pokFails);
        });
        it("rejects a substituted higher commitment (the proof binds the whole vector)", () => {
            const other = randomPoint(suite);
            round1((p) => patch(p, offC(1), other), pokFails);
        });
        it("rejects a substituted proof commitment R and a wrong response z", () => {
            const other = randomPoint(suite);
            round1((p) => patch(p, offR, other), pokFails);
            round1((p) => bumpScalar(suite, p, offZ), pokFails);
        });
        for (const [label, bytes] of badScalars(suite)) {
            it(`rejects proof response ${label}`, () => round1((p) => patch(p, offZ, bytes)));
        }
        it("rejects truncated payloads and trailing bytes", () => {
            round1(truncate);
            round1(extend);
        });
        it("rejects t+1 and t-1 commitments (threshold inflation / deflation)", () => {
            const withPoints = (points, tail) => new Writer()
                .list(points, (w, c) => w.fixed(c))
                .fixed(tail)
                .finish();
            const count = /expected 2 commitments/;
            round1((p) => {
                const points = [0, 1].map((k) => p.slice(offC(k), offC(k + 1)));
                return withPoints([...points, randomPoint(suite)], p.slice(offR));
            }, count);
            round1((p) => withPoints([p.slice(offC(0), offC(1))], p.slice(offR)), count);
        });
        it("rejects a proof of knowledge replayed from another session", () => {
            const other = scheme.keygen({ sessionId: sid(), self: 2, parties, threshold: T });
            const replayed = other.outgoing[0].payload;
            round1(() => replayed, pokFails);
        });
        it("rejects a package copied from another party (the proof binds the sender)", () => {
            let copied;
            const run = keygen(scheme, parties, T, {
                tamper: (msg, to) => {
                    if (msg.round !== 1)
                        return msg;
                    if (msg.from === 2 && to === 1)
                        copied = msg.payload;
                    if (msg.from === 3 && to === 1 && copied)
                        return { ...msg, payload: copied };
                    return msg;
                },
            });
            assert.ok(copied);
            assertAbort(run, 1, "bad-message", [3]);
        });
    });
    describe(`${scheme.name} DKG round 2 (point-to-point shares)`, () => {
        const round2 = (f, reason) => {
            const run = keygen(scheme, parties, T, { tamper: rewrite(2, 2, f, 1) });
            const err = assertAbort(run, 1, "bad-message", [2]);
            if (reason)
                assert.match(err.message, reason);
            assert.ok(!run.results.has(3), "no party may finish while another aborted");
        };
        it("rejects a share inconsistent with the sender's commitments", () => round2((p) => bumpScalar(suite, p, 0), /does not match/));
        for (const [label, bytes] of badScalars(suite)) {
            it(`rejects share ${label}`, () => round2(() => bytes));
        }
        it("rejects wrong lengths", () => {
            round2(truncate);
            round2(extend);
        });
    });
    describe(`${scheme.name} DKG round 3 (transcript confirmation)`, () => {
        it("aborts with a mismatch naming the sender of a different transcript hash", () => {
            const run = keygen(scheme, parties, T, { tamper: rewrite(3, 2, (p) => flip(p, 0)) });
            for (const p of [1, 3])
                assertAbort(run, p, "mismatch", [2]);
        });
        it("rejects a malformed confirmation", () => {
            const run = keygen(scheme, parties, T, { tamper: rewrite(3, 2, truncate) });
            for (const p of [1, 3])
                assertAbort(run, p, "bad-message", [2]);
        });
        it("a dropped confirmation leaves the waiting parties without a share", () => {
            const run = keygen(scheme, parties, T, { tamper: (m) => (m.round === 3 && m.from === 2 ? null : m) });
            assert.deepEqual(run.stalled.sort(), [1, 3]);
            assert.ok(!run.results.has(1) && !run.results.has(3));
        });
    });
    describe(`${scheme.name} DKG equivocation (split view of round 1)`, () => {
        it("a party showing party 1 a different valid package leaves no honest party with a key", () => {
            const sessionId = sid();
            const alternative = scheme.keygen({ sessionId, self: 2, parties, threshold: T }).outgoing[0].payload;
            const run = keygen(scheme, parties, T, { tamper: rewrite(1, 2, () => alternative, 1) }, sessionId);
            assertAbort(run, 1, "bad-message", [2]);
            assert.ok(!run.results.has(1) && !run.results.has(3));
        });
    });
    describe(`${scheme.name} DKG replay across sessions`, () => {
        it("a round-1 message of session A injected into session B is rejected", () => {
            const a = keygen(scheme, parties, T);
            assert.equal(a.errors.size, 0);
            const recorded = scheme.keygen({ sessionId: sid(), self: 3, parties, threshold: T }).outgoing[0];
            const b = keygen(scheme, parties, T, {
                tamper: (m) => (m.round === 1 && m.from === 3 ? { ...m, payload: recorded.payload } : m),
            });
            for (const p of [1, 2])
                assertAbort(b, p, "bad-message", [3]);
        });
    });
}
//# sourceMappingURL=keygen.test.js.map