/**
 * Degenerate DKG output: a dealer whose polynomial cancels the honest party's makes the group key
 * (and every verifying share) the identity. A real adversary cannot do this (the proof of
 * knowledge needs the constant term it would have to cancel); the test reads the honest party's
 * polynomial from its round object to show that the check fires, with a `security` abort, instead
 * of a share of a key anyone can sign for.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError, type Round, type Step, Writer } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme, type FrostShare } from "../src/index.js";
import { provePok } from "../src/keygen/pok.js";
import { commitChainContribution } from "../src/keygen/round1.js";
import { evalPolynomial } from "../src/vss.js";
import { sid } from "./helpers.js";

const roundOf = (s: Step<FrostShare>): Round<FrostShare> => {
  assert.equal(s.kind, "next");
  return (s as { round: Round<FrostShare> }).round;
};

for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  describe(`${scheme.name} DKG degenerate key`, () => {
    it("a dealer cancelling the other polynomial → security abort, no share", () => {
      const sessionId = sid();
      const parties = [1, 2];
      const ctx = { suite, sessionId, threshold: 2, parties, self: 2 };
      const r1 = roundOf(scheme.keygen({ sessionId, self: 1, parties, threshold: 2 }));
      // Test-only access to party 1's secret polynomial.
      const honest = (r1 as unknown as { coefficients: bigint[] }).coefficients;
      const neg = honest.map((c) => suite.Fn.neg(c));
      const commitments = neg.map((c) => suite.mulBase(c));
      const pok = provePok(ctx, 2, neg[0]!, commitments);
      const b = new Writer()
        .list(commitments, (w, c) => w.fixed(c.toBytes()))
        .fixed(pok.R.toBytes())
        .fixed(suite.encodeScalar(pok.z));
      const contribution = randomBytes(32);
      if (suite.derivation) b.fixed(commitChainContribution(ctx, 2, contribution));
      r1.receive({ round: 1, from: 2, to: "all", payload: b.finish() });
      const r2 = roundOf(r1.finalize());
      const p = new Writer().fixed(suite.encodeScalar(evalPolynomial(suite, neg, 1)));
      if (suite.derivation) p.fixed(contribution);
      r2.receive({ round: 2, from: 2, to: 1, payload: p.finish() });
      assert.throws(
        () => r2.finalize(),
        (e) => e instanceof ProtocolError && e.kind === "security" && /degenerate/.test(e.message),
      );
    });
  });
}
