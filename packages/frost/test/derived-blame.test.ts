/**
 * Blame under derived and Taproot keys. Signature shares are checked only when the aggregate fails,
 * and then against each signer's verifying share moved by the BIP32 tweak and, for Taproot, the
 * BIP341 tweak with its even-y negation. A wrong move would blame honest signers, and no honest
 * run would notice: so a cheater's share under a child key, an output key with and without a
 * script tree, and both together, must be blamed on the cheater alone by every honest party.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { type PartyId, runLocal } from "@custody/core";
import { bip340Suite } from "../src/ciphersuite.js";
import { bip340Scheme, type FrostShare, type TaprootOption } from "../src/index.js";
import { bumpScalar, rewrite } from "./bad.js";
import { assertAbort, keygenOk, range, sid } from "./helpers.js";

function signWith(
  shares: ReadonlyMap<PartyId, FrostShare>,
  signers: readonly PartyId[],
  options: { path?: readonly number[]; taproot?: TaprootOption },
  cheater: PartyId,
) {
  const sessionId = sid();
  const message = new Uint8Array(randomBytes(32));
  return runLocal(
    new Map(
      signers.map(
        (self) =>
          [
            self,
            () =>
              bip340Scheme.sign({ sessionId, self, share: shares.get(self)!, signers, message, ...options }),
          ] as const,
      ),
    ),
    { tamper: rewrite(2, cheater, (p) => bumpScalar(bip340Suite, p, 32)) },
  );
}

describe("a cheater's share under a derived or Taproot key is blamed on it alone", () => {
  const bip = keygenOk(bip340Scheme, range(3), 2);
  const cases: [string, { path?: readonly number[]; taproot?: TaprootOption }][] = [
    ["a child key", { path: [7] }],
    ["another child key", { path: [1, 2, 3] }],
    ["the BIP86 output key", { taproot: {} }],
    ["an output key with a script tree", { taproot: { merkleRoot: new Uint8Array(randomBytes(32)) } }],
    ["the output key of a child", { path: [5], taproot: {} }],
  ];
  for (const [name, options] of cases)
    it(`bip340, ${name}`, () => {
      // Several runs, so child and output keys of both parities occur.
      for (let i = 0; i < 4; i++) {
        const run = signWith(bip, range(3), options, 2);
        for (const p of [1, 3]) assertAbort(run, p, "bad-message", [2]);
        assert.ok(!run.results.has(1) && !run.results.has(3), "no honest party outputs");
      }
    });
});
