/**
 * Direct checks of the signing primitives' own guards, which the protocol rounds never exercise
 * because they always pass a well-formed signer set (found by `npm run mutation -- frost`): nonce
 * reuse, a package without the signer's commitment, bad commitment lists, unknown or malformed
 * signature shares, share counts at aggregation, and derivation from a legacy share.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ProtocolError } from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import {
  aggregateSignature,
  commitNonces,
  type NonceCommitment,
  signatureShare,
  verifySignatureShare,
} from "../src/sign/primitives.js";
import { keygenOk, range, sid } from "./helpers.js";

const rng = (n = 32) => new Uint8Array(randomBytes(n));

for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  describe(`${scheme.name} signing primitives`, () => {
    const shares = keygenOk(scheme, range(3), 2);
    const share = (p: number) => shares.get(p)!;
    const message = new Uint8Array(randomBytes(32));
    /** Fresh nonces of parties 1 and 2, and party 1's valid share over their commitments. */
    const signing = () => {
      const c1 = commitNonces(suite, share(1), rng);
      const c2 = commitNonces(suite, share(2), rng);
      const list = [c1.commitment, c2.commitment];
      const z1 = signatureShare(suite, share(1), c1.nonces, list, message);
      return { c1, c2, list, z1 };
    };

    it("accepts a valid share, also from an unsorted list of bare encodings", () => {
      const { c1, c2, list, z1 } = signing();
      assert.equal(verifySignatureShare(suite, share(3), list, message, 1, z1), true);
      const bare = (c: NonceCommitment) => ({ party: c.party, hiding: c.hiding, binding: c.binding });
      const reordered = [bare(c2.commitment), bare(c1.commitment)];
      assert.equal(verifySignatureShare(suite, share(3), reordered, message, 1, z1), true);
    });

    it("refuses to sign twice with the same nonces, or with one nonce already zeroed", () => {
      const c1 = commitNonces(suite, share(1), rng);
      const c2 = commitNonces(suite, share(2), rng);
      const list = [c1.commitment, c2.commitment];
      const halfUsed = { ...c1.nonces, hiding: new Uint8Array(c1.nonces.hiding.length) };
      assert.throws(() => signatureShare(suite, share(1), halfUsed, list, message), /already used/);
      signatureShare(suite, share(1), c1.nonces, list, message);
      assert.throws(() => signatureShare(suite, share(1), c1.nonces, list, message), /already used/);
    });

    it("refuses nonces whose commitment is not the signer's entry in the package", () => {
      const c1 = commitNonces(suite, share(1), rng);
      const other = commitNonces(suite, share(1), rng);
      const c2 = commitNonces(suite, share(2), rng);
      const hidingDiffers = { party: 1, hiding: other.commitment.hiding, binding: c1.commitment.binding };
      for (const mine of [other.commitment, hidingDiffers]) {
        assert.throws(
          () => signatureShare(suite, share(1), c1.nonces, [mine, c2.commitment], message),
          /incorrect signer commitment/,
        );
      }
    });

    it("refuses too few commitments, an outsider and a duplicate", () => {
      const { c1, c2, z1 } = signing();
      const outsider = { ...commitNonces(suite, share(3), rng).commitment, party: 4 };
      const again = { ...commitNonces(suite, share(1), rng).commitment };
      for (const list of [
        [c1.commitment],
        [c1.commitment, c2.commitment, outsider],
        [c1.commitment, again],
      ]) {
        assert.throws(() => verifySignatureShare(suite, share(3), list, message, 1, z1), Error);
      }
    });

    it("a share of a party outside the package, or not a canonical scalar, is invalid", () => {
      const { list, z1 } = signing();
      assert.equal(verifySignatureShare(suite, share(3), list, message, 3, z1), false);
      const over = new Uint8Array(z1.length).fill(0xff);
      assert.equal(verifySignatureShare(suite, share(3), list, message, 1, over), false);
    });

    it("aggregates exactly one share per signer", () => {
      const { c2, list, z1 } = signing();
      const z2 = signatureShare(suite, share(2), c2.nonces, list, message);
      const sig = aggregateSignature(
        suite,
        share(3),
        list,
        message,
        new Map([
          [1, z1],
          [2, z2],
        ]),
      );
      assert.equal(sig.length, 64);
      const extra = new Map([
        [1, z1],
        [2, z2],
        [3, z2],
      ]);
      assert.throws(() => aggregateSignature(suite, share(3), list, message, extra), /wrong number/);
      assert.throws(() => aggregateSignature(suite, share(3), list, message, new Map([[1, z1]])), Error);
    });
  });
}

describe("bip340 derivation from a legacy share", () => {
  it("a share without a chain code cannot sign along a path (bad-input)", () => {
    const shares = keygenOk(bip340Scheme, range(3), 2);
    const bytes = bip340Scheme.encodeShare(shares.get(1)!);
    const legacyBytes = bytes.slice(0, bytes.length - 32);
    legacyBytes[0] = 1;
    const legacy = bip340Scheme.decodeShare(legacyBytes);
    assert.equal(legacy.chainCode, undefined);
    const start = () =>
      bip340Scheme.sign({
        sessionId: sid(),
        self: 1,
        share: legacy,
        signers: [1, 2],
        message: new Uint8Array(32),
        path: [0],
      });
    assert.throws(start, (e: unknown) => e instanceof ProtocolError && e.kind === "bad-input");
  });
});
