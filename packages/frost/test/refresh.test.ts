/**
 * Refresh: the public key is kept, the secret and verifying shares change, old and new shares do
 * not mix, and a malicious dealer (nonzero constant, wrong share, different transcript) is named
 * (security.md §1.10).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { PartyId } from "@custody/core";
import { Writer } from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme, type FrostShare } from "../src/index.js";
import { commitNonces, signatureShare, verifySignatureShare } from "../src/sign/primitives.js";
import {
  badPoints,
  badScalars,
  bumpScalar,
  extend,
  flip,
  patch,
  randomPoint,
  rewrite,
  truncate,
} from "./bad.js";
import { assertAbort, assertSigned, keygenOk, range, refresh, sign } from "./helpers.js";

const msg = () => new Uint8Array(randomBytes(32));

for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  describe(`${scheme.name} refresh`, () => {
    it("keeps the public key, changes every secret and verifying share, old key stays usable", () => {
      const old = keygenOk(scheme, range(3), 2);
      const run = refresh(scheme, old);
      assert.equal(run.errors.size, 0);
      for (const [p, s] of run.results) {
        const o = old.get(p)!;
        assert.deepEqual(s.groupKey, o.groupKey);
        assert.deepEqual(scheme.info(s).publicKey, scheme.info(o).publicKey);
        assert.notEqual(s.secretShare, o.secretShare);
        assert.notDeepEqual(s.transcript, o.transcript);
        for (const q of range(3)) assert.notDeepEqual(s.verifyingShares.get(q), o.verifyingShares.get(q));
      }
      const m = msg();
      assertSigned(scheme, sign(scheme, old, [1, 3], m), 2, m);
    });

    it("old and new shares cannot be mixed in one signing", () => {
      const old = keygenOk(scheme, range(3), 2);
      const fresh = refresh(scheme, old).results;
      const mixed = new Map<PartyId, FrostShare>([
        [1, old.get(1)!],
        [2, fresh.get(2)!],
        [3, fresh.get(3)!],
      ]);
      for (const signers of [
        [1, 2],
        [1, 2, 3],
      ]) {
        const run = sign(scheme, mixed, signers, msg());
        assert.equal(run.results.size, 0, "a mixed signer set must not return a signature");
        assert.ok(run.errors.size > 0);
      }
      // Below the epoch binding, the maths also refuses: an old-share signature share does not
      // verify against the new verifying shares.
      const m = msg();
      const c1 = commitNonces(suite, old.get(1)!, (n = 32) => new Uint8Array(randomBytes(n)));
      const c2 = commitNonces(suite, fresh.get(2)!, (n = 32) => new Uint8Array(randomBytes(n)));
      const list = [c1.commitment, c2.commitment];
      const z1 = signatureShare(suite, old.get(1)!, c1.nonces, list, m);
      assert.ok(!verifySignatureShare(suite, fresh.get(2)!, list, m, 1, z1));
    });

    const round1 = (f: (p: Uint8Array) => Uint8Array, reason?: RegExp) => {
      const old = keygenOk(scheme, range(3), 2);
      const run = refresh(scheme, old, { tamper: rewrite(1, 2, f) });
      for (const p of [1, 3]) {
        const err = assertAbort(run, p, "bad-message", [2]);
        if (reason) assert.match(err.message, reason);
      }
      assert.equal(run.results.size, 0);
    };
    it("names a dealer whose polynomial has a nonzero constant term", () => {
      const shifted = randomPoint(suite);
      round1((p) => Uint8Array.of(1, ...shifted, ...p.slice(1)), /nonzero constant/);
    });
    it("rejects an invalid constant-term flag, commitment count, elements and lengths", () => {
      round1((p) => patch(p, 0, Uint8Array.of(2)));
      // Flag 2 followed by a valid element: refused for its flag, not only as a nonzero constant.
      const element = randomPoint(suite);
      round1((p) => Uint8Array.of(2, ...element, ...p.slice(1)), /constant-term flag/);
      const extra = randomPoint(suite);
      round1(
        (p) =>
          new Writer()
            .u8(0)
            .list([p.slice(5), extra], (w, c) => w.fixed(c))
            .finish(),
        /expected 2 commitments, got 3/,
      );
      round1((p) => patch(p, 5, badPoints(suite)[0]![1]));
      round1(truncate);
      round1(extend);
    });

    const round2 = (f: (p: Uint8Array) => Uint8Array) => {
      const old = keygenOk(scheme, range(3), 2);
      const run = refresh(scheme, old, { tamper: rewrite(2, 3, f, 1) });
      assertAbort(run, 1, "bad-message", [3]);
    };
    it("names a dealer whose share does not match its commitments", () =>
      round2((p) => bumpScalar(suite, p, 0)));
    it("rejects a non-canonical refresh share", () => round2(() => badScalars(suite)[0]![1]));

    it("a differing confirmation hash is a mismatch naming the sender", () => {
      const old = keygenOk(scheme, range(3), 2);
      const run = refresh(scheme, old, { tamper: rewrite(3, 2, (p) => flip(p, 31)) });
      for (const p of [1, 3]) assertAbort(run, p, "mismatch", [2]);
    });
  });
}
