/**
 * Our signing primitives against noble's RFC 9591 ciphersuites (`ed25519_FROST`, `schnorr_FROST`):
 * nonces, commitments, signature shares, share verification and the aggregated signature must be
 * byte-identical for the same inputs, for BIP340 group keys and group commitments of both y
 * parities, so parties running either implementation interoperate.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { PartyId } from "@custody/core";
import { bytesToHex } from "@noble/hashes/utils.js";
import { bip340Suite, type Ciphersuite, ed25519Suite } from "../src/ciphersuite.js";
import { FrostShare } from "../src/index.js";
import {
  aggregateSignature,
  commitNonces,
  type NonceCommitment,
  prepareSigning,
  signatureShare,
  verifySignatureShare,
} from "../src/sign/primitives.js";
import { evalPolynomial } from "../src/vss.js";

const parties = [1, 2, 3, 4];
const threshold = 3;

/** Dealer shares of a random key whose group key has the requested BIP340 parity. */
function dealerShares(suite: Ciphersuite, evenKey: boolean): Map<PartyId, FrostShare> {
  let secret = suite.randomScalar();
  if (suite.hashes.hasEvenY && suite.hashes.hasEvenY(suite.mulBase(secret)) !== evenKey)
    secret = suite.Fn.neg(secret);
  const coefficients = [secret, suite.randomScalar(), suite.randomScalar()];
  const secrets = new Map(parties.map((p) => [p, evalPolynomial(suite, coefficients, p)] as const));
  const verifyingShares = new Map(parties.map((p) => [p, suite.mulBase(secrets.get(p)!).toBytes()] as const));
  const groupKey = suite.mulBase(secret).toBytes();
  return new Map(
    parties.map((self) => [
      self,
      new FrostShare(
        {
          scheme: suite.name,
          threshold,
          parties,
          self,
          groupKey,
          verifyingShares,
          transcript: new Uint8Array(32),
        },
        secrets.get(self)!,
      ),
    ]),
  );
}

const id = (suite: Ciphersuite, p: PartyId) => suite.frost.Identifier.fromNumber(p);
const noblePublic = (suite: Ciphersuite, key: FrostShare) => ({
  signers: { min: key.threshold, max: key.parties.length },
  commitments: [key.groupKey],
  verifyingShares: Object.fromEntries(key.parties.map((p) => [id(suite, p), key.verifyingShares.get(p)!])),
});
const nobleSecret = (suite: Ciphersuite, share: FrostShare) => ({
  identifier: id(suite, share.self),
  signingShare: suite.encodeScalar(share.secretShare),
});
const nobleCommitments = (suite: Ciphersuite, list: readonly NonceCommitment[]) =>
  list.map((c) => ({ identifier: id(suite, c.party), hiding: c.hiding, binding: c.binding }));

for (const suite of [ed25519Suite, bip340Suite]) {
  describe(`${suite.name} signing primitives match noble's FROST`, () => {
    for (const evenKey of suite.hashes.hasEvenY ? [true, false] : [true]) {
      it(`identical nonces, shares and signatures${suite.hashes.hasEvenY ? ` (${evenKey ? "even" : "odd"} group key)` : ""}`, () => {
        const shares = dealerShares(suite, evenKey);
        const key = shares.get(1)!;
        const parities = new Set<boolean>();
        // At least 8 rounds, and (bip340) until both group commitment parities occurred.
        for (
          let round = 0;
          round < 8 || (suite.hashes.hasEvenY && parities.size < 2 && round < 64);
          round++
        ) {
          const signers = round % 2 === 0 ? [1, 3, 4] : parties;
          const message = new Uint8Array(randomBytes(round * 7));
          const ours = new Map<PartyId, { nonces: ReturnType<typeof commitNonces>["nonces"] }>();
          const theirs = new Map<PartyId, ReturnType<Ciphersuite["frost"]["commit"]>["nonces"]>();
          const list: NonceCommitment[] = [];
          for (const p of signers) {
            const chunks = [randomBytes(32), randomBytes(32)];
            const replay = () => {
              let i = 0;
              return () => new Uint8Array(chunks[i++]!);
            };
            const mine = commitNonces(suite, shares.get(p)!, replay());
            const ref = suite.frost.commit(nobleSecret(suite, shares.get(p)!), replay());
            assert.equal(bytesToHex(mine.nonces.hiding), bytesToHex(ref.nonces.hiding));
            assert.equal(bytesToHex(mine.nonces.binding), bytesToHex(ref.nonces.binding));
            assert.equal(bytesToHex(mine.commitment.hiding), bytesToHex(ref.commitments.hiding));
            assert.equal(bytesToHex(mine.commitment.binding), bytesToHex(ref.commitments.binding));
            ours.set(p, mine);
            theirs.set(p, ref.nonces);
            // Received commitments carry no elements: exercise the decoding path too.
            list.push(
              p === signers[0]
                ? mine.commitment
                : { party: p, hiding: mine.commitment.hiding, binding: mine.commitment.binding },
            );
          }
          parities.add(prepareSigning(suite, key, list, message).negateNonces);
          const zs = new Map<PartyId, Uint8Array>();
          const nobleZs: Record<string, Uint8Array> = {};
          for (const p of signers) {
            const share = shares.get(p)!;
            const z = signatureShare(suite, share, ours.get(p)!.nonces, list, message);
            const ref = suite.frost.signShare(
              nobleSecret(suite, share),
              noblePublic(suite, share),
              theirs.get(p)!,
              nobleCommitments(suite, list),
              message,
            );
            assert.equal(bytesToHex(z), bytesToHex(ref));
            zs.set(p, z);
            nobleZs[id(suite, p)] = ref;
          }
          for (const p of signers) {
            assert.ok(verifySignatureShare(suite, key, list, message, p, zs.get(p)!));
            const other = signers.find((q) => q !== p)!;
            assert.ok(!verifySignatureShare(suite, key, list, message, other, zs.get(p)!));
          }
          const sig = aggregateSignature(suite, key, list, message, zs);
          const ref = suite.frost.aggregate(
            noblePublic(suite, key),
            nobleCommitments(suite, list),
            message,
            nobleZs,
          );
          assert.equal(bytesToHex(sig), bytesToHex(ref));
          assert.ok(suite.verify(sig, message, suite.publicKey(suite.decodePoint(key.groupKey))));
        }
        if (suite.hashes.hasEvenY) assert.equal(parities.size, 2, "both group commitment parities exercised");
      });
    }
  });
}
