/**
 * The ciphersuites' strict decoders on their own: every invalid element and scalar encoding of the
 * deserializer tables is refused directly (the round tests see the same inputs, but there a later
 * check, such as a failing proof or signature share, would also abort).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { badPoints, badScalars, randomPoint } from "./bad.js";

for (const suite of [ed25519Suite, bip340Suite]) {
  describe(`${suite.name} decoders`, () => {
    it("refuse every invalid element encoding and accept a valid one", () => {
      for (const [label, bytes] of badPoints(suite))
        assert.throws(() => suite.decodePoint(bytes), Error, label);
      const ok = randomPoint(suite);
      assert.deepEqual(suite.decodePoint(ok).toBytes(), ok);
    });
    it("refuse every non-canonical scalar and accept order - 1", () => {
      for (const [label, bytes] of badScalars(suite))
        assert.throws(() => suite.decodeScalar(bytes), Error, label);
      const top = suite.Fn.ORDER - 1n;
      assert.equal(suite.decodeScalar(suite.encodeScalar(top)), top);
    });
  });
}
