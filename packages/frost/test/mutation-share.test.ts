/**
 * A stored share whose verifying shares lie on a polynomial of too high a degree is refused, even
 * when they interpolate the group key through all parties (found by `npm run mutation -- frost`:
 * the consistency check must use exactly `t` of them as the basis).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import { interpolateAt } from "../src/vss.js";
import { patch } from "./bad.js";
import { keygenOk, range } from "./helpers.js";

for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  describe(`${scheme.name} share decoding (degree of the verifying shares)`, () => {
    it("refuses 2-of-3 verifying shares of degree 2 that interpolate the group key", () => {
      const share = keygenOk(scheme, range(3), 2).get(1)!;
      const bytes = scheme.encodeShare(share);
      const PL = suite.pointLength;
      const offGroup = 4 + 4 + 3 + 32;
      // Party 1 keeps its verifying share; parties 2 and 3 get unrelated points, and the group key
      // becomes the degree-2 interpolation at 0 through all three.
      const points = [
        [1, suite.mulBase(share.secretShare)],
        [2, suite.mulBase(suite.randomScalar())],
        [3, suite.mulBase(suite.randomScalar())],
      ] as const;
      const groupKey = interpolateAt(suite, points, 0);
      let forged = patch(bytes, offGroup, groupKey.toBytes());
      for (const [i, [, v]] of points.entries()) forged = patch(forged, offGroup + PL * (1 + i), v.toBytes());
      assert.throws(
        () => scheme.decodeShare(forged),
        (e: unknown) => e instanceof ProtocolError && e.kind === "bad-input",
      );
      // The same bytes with a degree-1 set (the real one) still decode.
      assert.equal(scheme.decodeShare(bytes).secretShare, share.secretShare);
    });
  });
}
