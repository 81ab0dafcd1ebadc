/**
 * Share encoding: strict versioned round trip, rejection of every malformed field, and redaction
 * of the secret in JSON and util.inspect output.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspect } from "node:util";
import { ProtocolError } from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme, FrostShare, SHARE_VERSION } from "../src/index.js";
import { badPoints, badScalars, patch, randomPoint } from "./bad.js";
import { keygenOk, range } from "./helpers.js";
const badInput = (f) => assert.throws(f, (e) => e instanceof ProtocolError && e.kind === "bad-input");
for (const [scheme, suite, otherScheme] of [
    [ed25519Scheme, ed25519Suite, bip340Scheme],
    [bip340Scheme, bip340Suite, ed25519Scheme],
]) {
    describe(`${scheme.name} share encoding`, () => {
        const shares = keygenOk(scheme, range(3), 2);
        const share = shares.get(2);
        const bytes = scheme.encodeShare(share);
        const PL = suite.pointLength;
        // Layout: version, scheme, t, self, u32 n, n ids, secret, group key, n verifying shares,
        // transcript, then (bip340 only) the chain code.
        const offSecret = 4 + 4 + 3;
        const offGroup = offSecret + 32;
        const offVerifying = (i) => offGroup + PL * (1 + i);
        const offChain = offVerifying(3) + 32;
        const CL = suite.derivation ? 32 : 0;
        it("round-trips exactly", () => {
            const back = scheme.decodeShare(bytes);
            assert.deepEqual(scheme.encodeShare(back), bytes);
            assert.equal(back.secretShare, share.secretShare);
            assert.deepEqual(scheme.info(back), scheme.info(share));
            assert.equal(bytes.length, offChain + CL);
            assert.equal(bytes[0], SHARE_VERSION);
            assert.equal(SHARE_VERSION, 2);
            assert.deepEqual(scheme.info(share).publicKey.length, 32);
            if (suite.derivation) {
                assert.deepEqual(scheme.info(back).chainCode, share.chainCode);
                assert.deepEqual(bytes.slice(offChain), share.chainCode);
                assert.equal(scheme.info(share).chainCode?.length, 32);
            }
            else {
                assert.equal(share.chainCode, undefined);
                assert.ok(!("chainCode" in scheme.info(share)));
            }
        });
        it("reads legacy version-1 shares (no chain code) and writes them back unchanged", () => {
            const v1 = patch(bytes.slice(0, offChain), 0, Uint8Array.of(1));
            const legacy = scheme.decodeShare(v1);
            assert.equal(legacy.chainCode, undefined);
            assert.equal(legacy.secretShare, share.secretShare);
            assert.deepEqual(scheme.info(legacy).publicKey, scheme.info(share).publicKey);
            if (suite.derivation) {
                assert.deepEqual(scheme.encodeShare(legacy), v1);
                // A v1 layout with a chain code appended, or a v2 layout without one, is malformed.
                badInput(() => scheme.decodeShare(patch(bytes, 0, Uint8Array.of(1))));
                badInput(() => scheme.decodeShare(patch(bytes.slice(0, offChain), 0, Uint8Array.of(2))));
            }
            else {
                assert.deepEqual(scheme.encodeShare(legacy), bytes);
            }
        });
        it("rejects trailing bytes, truncation, unknown version and the other scheme's id", () => {
            badInput(() => scheme.decodeShare(Uint8Array.of(...bytes, 0)));
            badInput(() => scheme.decodeShare(bytes.slice(0, -1)));
            badInput(() => scheme.decodeShare(patch(bytes, 0, Uint8Array.of(3))));
            badInput(() => scheme.decodeShare(patch(bytes, 0, Uint8Array.of(0))));
            badInput(() => otherScheme.decodeShare(bytes));
            badInput(() => otherScheme.encodeShare(share));
        });
        it("rejects bad party sets and thresholds", () => {
            badInput(() => scheme.decodeShare(patch(bytes, 2, Uint8Array.of(4)))); // t > n
            badInput(() => scheme.decodeShare(patch(bytes, 2, Uint8Array.of(1)))); // t < 2
            badInput(() => scheme.decodeShare(patch(bytes, 3, Uint8Array.of(9)))); // self not a party
            badInput(() => scheme.decodeShare(patch(bytes, 8, Uint8Array.of(3, 2)))); // unsorted ids
            badInput(() => scheme.decodeShare(patch(bytes, 8, Uint8Array.of(0)))); // id 0
        });
        it("rejects zero, non-canonical and mismatched secrets", () => {
            badInput(() => scheme.decodeShare(patch(bytes, offSecret, new Uint8Array(32))));
            for (const [, s] of badScalars(suite))
                badInput(() => scheme.decodeShare(patch(bytes, offSecret, s)));
            badInput(() => scheme.decodeShare(patch(bytes, offSecret, suite.encodeScalar(suite.randomScalar()))));
        });
        it("rejects invalid and inconsistent group key and verifying shares", () => {
            for (const [, p] of badPoints(suite)) {
                badInput(() => scheme.decodeShare(patch(bytes, offGroup, p)));
                badInput(() => scheme.decodeShare(patch(bytes, offVerifying(0), p)));
            }
            badInput(() => scheme.decodeShare(patch(bytes, offGroup, randomPoint(suite))));
            badInput(() => scheme.decodeShare(patch(bytes, offVerifying(2), randomPoint(suite))));
        });
        it("never prints the secret", () => {
            const secretDec = share.secretShare.toString();
            const secretHex = Buffer.from(suite.encodeScalar(share.secretShare)).toString("hex");
            const json = JSON.stringify(share);
            const shown = [json, inspect(share, { depth: 10, showHidden: true }), String(Object.keys(share))];
            for (const text of shown) {
                assert.ok(!text.includes(secretHex) && !text.includes(secretDec), text);
            }
            assert.match(json, /<redacted>/);
            assert.equal(JSON.parse(json).scheme, scheme.name);
            assert.ok(share instanceof FrostShare);
        });
    });
}
//# sourceMappingURL=share.test.js.map