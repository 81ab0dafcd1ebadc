/**
 * RFC 9591 Appendix E.1 (FROST(Ed25519, SHA-512)) through our code path: VSS share evaluation,
 * share encoding/validation, nonce commitment with the RFC's nonce randomness, signature shares,
 * share verification and aggregation, plus an independent RFC 8032 verification of the result.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ed25519Suite } from "../src/ciphersuite.js";
import { ed25519Scheme, FrostShare } from "../src/index.js";
import { aggregateSignature, commitNonces, signatureShare, verifySignatureShare, } from "../src/sign/primitives.js";
import { evalPolynomial } from "../src/vss.js";
import { independentVerify } from "./helpers.js";
const v = JSON.parse(readFileSync(new URL("../../test/vectors/rfc9591-ed25519-sha512.json", import.meta.url), "utf8"));
const suite = ed25519Suite;
const scalar = (hex) => suite.decodeScalar(hexToBytes(hex));
const parties = [1, 2, 3];
const message = hexToBytes(v.inputs.message);
function shareOf(self) {
    const verifyingShares = new Map(parties.map((p) => [p, suite.mulBase(scalar(v.inputs.participant_shares[p])).toBytes()]));
    return new FrostShare({
        scheme: "ed25519",
        threshold: 2,
        parties,
        self,
        groupKey: hexToBytes(v.inputs.group_public_key),
        verifyingShares,
        transcript: new Uint8Array(32),
    }, scalar(v.inputs.participant_shares[self]));
}
/** An RNG replaying the RFC's nonce randomness (hiding first, then binding). */
function replay(...chunks) {
    const queue = chunks.map(hexToBytes);
    return (length = 32) => {
        const next = queue.shift();
        assert.ok(next && next.length === length);
        return next;
    };
}
describe("RFC 9591 E.1 FROST(Ed25519, SHA-512)", () => {
    it("group key and participant shares follow from the dealer polynomial", () => {
        const coefficients = [
            scalar(v.inputs.group_secret_key),
            ...v.inputs.share_polynomial_coefficients.map(scalar),
        ];
        assert.equal(bytesToHex(suite.mulBase(coefficients[0]).toBytes()), v.inputs.group_public_key);
        for (const p of parties) {
            assert.equal(bytesToHex(suite.encodeScalar(evalPolynomial(suite, coefficients, p))), v.inputs.participant_shares[p]);
        }
    });
    it("the RFC shares pass our strict share encoding round trip", () => {
        for (const p of parties) {
            const share = shareOf(p);
            const decoded = ed25519Scheme.decodeShare(ed25519Scheme.encodeShare(share));
            assert.equal(decoded.secretShare, share.secretShare);
            assert.deepEqual(ed25519Scheme.info(decoded).publicKey, hexToBytes(v.inputs.group_public_key));
        }
    });
    it("reproduces nonces, commitments, signature shares and the signature", () => {
        const signers = v.inputs.participant_list;
        const round1 = signers.map((p) => {
            const o = v.round_one_outputs[p];
            const { nonces, commitment } = commitNonces(suite, shareOf(p), replay(o.hiding_nonce_randomness, o.binding_nonce_randomness));
            assert.equal(bytesToHex(nonces.hiding), o.hiding_nonce);
            assert.equal(bytesToHex(nonces.binding), o.binding_nonce);
            assert.equal(bytesToHex(commitment.hiding), o.hiding_nonce_commitment);
            assert.equal(bytesToHex(commitment.binding), o.binding_nonce_commitment);
            return { p, nonces, commitment };
        });
        const commitments = round1.map((r) => r.commitment);
        const shares = new Map();
        for (const { p, nonces } of round1) {
            const z = signatureShare(suite, shareOf(p), nonces, commitments, message);
            assert.equal(bytesToHex(z), v.round_two_outputs[p]);
            shares.set(p, z);
        }
        const key = shareOf(1);
        for (const [p, z] of shares)
            assert.ok(verifySignatureShare(suite, key, commitments, message, p, z));
        // A share checked under the other signer's identity fails (culprit attribution is meaningful).
        assert.ok(!verifySignatureShare(suite, key, commitments, message, 3, shares.get(1)));
        const sig = aggregateSignature(suite, key, commitments, message, shares);
        assert.equal(bytesToHex(sig), v.final_output.sig);
        const publicKey = hexToBytes(v.inputs.group_public_key);
        assert.ok(suite.verify(sig, message, publicKey));
        assert.ok(independentVerify("ed25519", { signature: sig, publicKey }, message));
    });
    it("nonces are consumed by signing: a second signature share with them fails", () => {
        const o = v.round_one_outputs[1];
        const { nonces, commitment } = commitNonces(suite, shareOf(1), replay(o.hiding_nonce_randomness, o.binding_nonce_randomness));
        const o3 = v.round_one_outputs[3];
        const other = commitNonces(suite, shareOf(3), replay(o3.hiding_nonce_randomness, o3.binding_nonce_randomness));
        const list = [commitment, other.commitment];
        signatureShare(suite, shareOf(1), nonces, list, message);
        assert.throws(() => signatureShare(suite, shareOf(1), nonces, list, message));
    });
});
//# sourceMappingURL=rfc9591.test.js.map