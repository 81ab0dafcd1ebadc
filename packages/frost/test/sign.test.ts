/**
 * Signing: every t-subset signs; malformed or wrong nonce commitments and signature shares abort
 * naming the sender (every sender of an invalid share, also when shares are only checked after
 * the aggregate failed to verify, and never with a signature released); a split view of round 1 aborts without blaming honest parties (§1.5); BIP340
 * works for group keys of both y parities; replayed shares from another session are rejected.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import type { PartyId } from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme, type FrostShare } from "../src/index.js";
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
import { assertAbort, assertSigned, keygenOk, range, sign } from "./helpers.js";

const msg = () => new Uint8Array(randomBytes(32));

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [head!, ...s]), ...subsets(rest, k)];
}

for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  const PL = suite.pointLength;

  describe(`${scheme.name} signing`, () => {
    let shares35: Map<PartyId, FrostShare>;
    let shares23: Map<PartyId, FrostShare>;
    before(() => {
      shares35 = keygenOk(scheme, range(5), 3);
      shares23 = keygenOk(scheme, range(3), 2);
    });

    it("every 3-subset of a (3,5) key and larger signer sets produce valid signatures", () => {
      for (const signers of [...subsets(range(5), 3), range(4), range(5)]) {
        const m = msg();
        assertSigned(scheme, sign(scheme, shares35, signers, m), signers.length, m);
      }
    });

    it("every 2-subset of a (2,3) key signs; repeated signing uses fresh nonces", () => {
      const seen = new Set<string>();
      const m = msg();
      for (const signers of [...subsets(range(3), 2), range(3), [1, 2]]) {
        const out = assertSigned(scheme, sign(scheme, shares23, signers, m), signers.length, m);
        const r = Buffer.from(out.signature.slice(0, 32)).toString("hex");
        assert.ok(!seen.has(r), "nonce commitment R repeated");
        seen.add(r);
      }
    });

    const round1 = (f: (p: Uint8Array) => Uint8Array) => {
      const run = sign(scheme, shares23, range(3), msg(), { tamper: rewrite(1, 2, f) });
      for (const p of [1, 3]) assertAbort(run, p, "bad-message", [2]);
      assert.equal(run.results.size, 0);
    };
    for (const [label, bytes] of badPoints(suite)) {
      it(`rejects a hiding commitment = ${label}`, () => round1((p) => patch(p, 0, bytes)));
    }
    it("rejects an invalid binding commitment, truncation and trailing bytes", () => {
      round1((p) => patch(p, PL, badPoints(suite)[0]![1]));
      round1(truncate);
      round1(extend);
    });

    it("a split view of round 1 aborts as a mismatch without blaming anyone", () => {
      const other = randomPoint(suite);
      const run = sign(scheme, shares23, range(3), msg(), {
        tamper: rewrite(1, 2, (p) => patch(p, 0, other), 1),
      });
      assert.equal(run.results.size, 0);
      assert.ok(run.errors.size > 0);
      for (const p of run.errors.keys()) assertAbort(run, p, "mismatch", []);
    });

    const round2 = (f: (p: Uint8Array) => Uint8Array, kind: string, culprits: PartyId[]) => {
      const run = sign(scheme, shares23, range(3), msg(), { tamper: rewrite(2, 2, f) });
      for (const p of [1, 3]) assertAbort(run, p, kind, culprits);
    };
    it("names the signer of an invalid signature share", () => {
      round2((p) => bumpScalar(suite, p, 32), "bad-message", [2]);
    });
    it("names the signer of a canonical but wrong share: random, zero, negated", () => {
      const random = suite.encodeScalar(suite.randomScalar());
      round2((p) => patch(p, 32, random), "bad-message", [2]);
      round2((p) => patch(p, 32, new Uint8Array(32)), "bad-message", [2]);
      const negate = (p: Uint8Array) =>
        patch(p, 32, suite.encodeScalar(suite.Fn.neg(suite.decodeScalar(p.slice(32)))));
      round2(negate, "bad-message", [2]);
    });
    it("names every signer of an invalid share, and only those", () => {
      const bump = (p: Uint8Array) => bumpScalar(suite, p, 32);
      const run = sign(scheme, shares35, range(4), msg(), {
        tamper: (x, to) => rewrite(2, 2, bump)(rewrite(2, 4, bump)(x, to)!, to),
      });
      for (const p of [1, 3]) assertAbort(run, p, "bad-message", [2, 4]);
      assertAbort(run, 2, "bad-message", [4]);
      assertAbort(run, 4, "bad-message", [2]);
      assert.equal(run.results.size, 0);
    });
    for (const [label, bytes] of badScalars(suite)) {
      it(`rejects a signature share ${label}`, () => round2((p) => patch(p, 32, bytes), "bad-message", [2]));
    }
    it("rejects a malformed round-2 payload", () => {
      round2(truncate, "bad-message", [2]);
      round2(extend, "bad-message", [2]);
    });
    it("a differing signing-package hash is a mismatch", () => {
      round2((p) => flip(p, 0), "mismatch", []);
    });

    it("a signature share replayed from another session is rejected", () => {
      const m = msg();
      let recorded: Uint8Array | undefined;
      sign(scheme, shares23, [1, 2], m, {
        tamper: (x) => {
          if (x.round === 2 && x.from === 2) recorded = x.payload;
          return x;
        },
      });
      assert.ok(recorded);
      const replayed = recorded;
      const run = sign(scheme, shares23, [1, 2], m, { tamper: rewrite(2, 2, () => replayed) });
      assertAbort(run, 1, "mismatch", []);
    });
  });
}

describe("bip340 group keys of both y parities", () => {
  it("signs and verifies independently for even and odd y", () => {
    const parities = new Set<number>();
    for (let i = 0; i < 40 && parities.size < 2; i++) {
      const shares = keygenOk(bip340Scheme, [1, 2], 2);
      const parity = shares.get(1)!.groupKey[0]!;
      if (parities.has(parity)) continue;
      parities.add(parity);
      for (let j = 0; j < 4; j++) {
        const m = msg();
        assertSigned(bip340Scheme, sign(bip340Scheme, shares, [1, 2], m), 2, m);
      }
    }
    assert.deepEqual([...parities].sort(), [2, 3]);
  });
});
