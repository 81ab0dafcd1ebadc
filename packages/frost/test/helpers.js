/**
 * Test helpers: run DKG, signing and refresh for a whole party set over core's in-process network,
 * and check signatures with verifiers independent of noble (node:crypto for Ed25519,
 * tiny-secp256k1 for BIP340).
 * @module
 */
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { ProtocolError, runLocal, } from "@custody/core";
import { verifySchnorr } from "tiny-secp256k1";
/** A fresh 32-byte session id. */
export const sid = () => new Uint8Array(randomBytes(32));
/** Parties 1..n. */
export const range = (n) => Array.from({ length: n }, (_, i) => i + 1);
/** Runs a DKG among `parties` with threshold `t`. */
export function keygen(scheme, parties, t, options = {}, sessionId = sid()) {
    const starts = new Map(parties.map((self) => [self, () => scheme.keygen({ sessionId, self, parties, threshold: t })]));
    return runLocal(starts, options);
}
/** Runs a DKG that must succeed; returns the shares by party. */
export function keygenOk(scheme, parties, t) {
    const run = keygen(scheme, parties, t);
    assert.equal(run.errors.size, 0, `keygen errors: ${[...run.errors.values()].join("; ")}`);
    assert.equal(run.results.size, parties.length);
    const first = run.results.values().next().value;
    for (const s of run.results.values()) {
        assert.deepEqual(s.groupKey, first.groupKey);
        assert.deepEqual(s.transcript, first.transcript);
    }
    return run.results;
}
/** Runs signing by `signers`, each with its own share from `shares`. */
export function sign(scheme, shares, signers, message, options = {}, sessionId = sid()) {
    const starts = new Map(signers.map((self) => [self, () => scheme.sign({ sessionId, self, share: shares.get(self), signers, message })]));
    return runLocal(starts, options);
}
/** Runs a refresh among every holder in `shares`. */
export function refresh(scheme, shares, options = {}, sessionId = sid()) {
    const starts = new Map([...shares].map(([self, share]) => [self, () => scheme.refresh({ sessionId, self, share })]));
    return runLocal(starts, options);
}
/** Verifies with an implementation independent of noble. */
export function independentVerify(scheme, out, message) {
    if (scheme === "ed25519") {
        const key = createPublicKey({
            key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(out.publicKey).toString("base64url") },
            format: "jwk",
        });
        return verify(null, message, key, out.signature);
    }
    return verifySchnorr(message, out.publicKey, out.signature);
}
/** Asserts that every signer produced the same signature and that it verifies independently. */
export function assertSigned(scheme, run, n, message) {
    assert.equal(run.errors.size, 0, `sign errors: ${[...run.errors.values()].join("; ")}`);
    assert.equal(run.results.size, n);
    const outs = [...run.results.values()];
    for (const o of outs) {
        assert.deepEqual(o.signature, outs[0].signature);
        assert.equal(o.signature.length, 64);
        assert.equal(o.publicKey.length, 32);
    }
    assert.ok(independentVerify(scheme.name, outs[0], message), "independent verifier rejected the signature");
    return outs[0];
}
/** Asserts that `party` aborted with a ProtocolError of `kind` blaming exactly `culprits`. */
export function assertAbort(run, party, kind, culprits) {
    const err = run.errors.get(party);
    assert.ok(err instanceof ProtocolError, `party ${party} did not abort with a ProtocolError: ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.deepEqual([...err.culprits], [...culprits], err.message);
    assert.ok(!run.results.has(party));
    return err;
}
//# sourceMappingURL=helpers.js.map