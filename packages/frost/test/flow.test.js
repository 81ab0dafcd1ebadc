/**
 * End to end over core's in-process network: DKG → sign → refresh → sign for (2,3), (3,5) and
 * (2,2), every signature checked with an independent verifier, also under shuffled delivery.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import { assertSigned, keygen, keygenOk, range, refresh, sign } from "./helpers.js";
const msg = () => new Uint8Array(randomBytes(32));
for (const scheme of [ed25519Scheme, bip340Scheme]) {
    describe(`${scheme.name}: DKG → sign → refresh → sign`, () => {
        for (const [t, n] of [
            [2, 3],
            [3, 5],
            [2, 2],
        ]) {
            it(`(${t},${n})`, () => {
                const shares = keygenOk(scheme, range(n), t);
                const m = msg();
                const out = assertSigned(scheme, sign(scheme, shares, range(t), m), t, m);
                const r = refresh(scheme, shares);
                assert.equal(r.errors.size, 0, [...r.errors.values()].join("; "));
                const m2 = msg();
                const out2 = assertSigned(scheme, sign(scheme, r.results, range(n).slice(n - t), m2), t, m2);
                assert.deepEqual(out2.publicKey, out.publicKey);
            });
        }
    });
}
for (const scheme of [ed25519Scheme, bip340Scheme]) {
    describe(`${scheme.name}: shuffled delivery order`, () => {
        for (const seed of [1, 7, 42, 1234]) {
            it(`seed ${seed}: DKG, sign and refresh complete`, () => {
                const run = keygen(scheme, range(5), 3, { shuffleSeed: seed });
                assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
                assert.equal(run.results.size, 5);
                const m = msg();
                assertSigned(scheme, sign(scheme, run.results, [1, 3, 4, 5], m, { shuffleSeed: seed }), 4, m);
                const r = refresh(scheme, run.results, { shuffleSeed: seed });
                assert.equal(r.errors.size, 0, [...r.errors.values()].join("; "));
                const m2 = msg();
                assertSigned(scheme, sign(scheme, r.results, [2, 4, 5], m2, { shuffleSeed: seed + 1 }), 3, m2);
            });
        }
    });
}
//# sourceMappingURL=flow.test.js.map