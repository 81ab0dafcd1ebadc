/**
 * Signing batches of the real schemes, in process: the session a worker builds for a batch work
 * item (`beginSession` with a `sign-batch` spec) run by every signer through `runLocal`, each
 * signature checked by a verifier independent of the protocol code (OpenSSL, libsecp256k1).
 * Also: the largest ECDSA batch stays under the broker's message size, and a malformed part of
 * one instance aborts the batch naming its sender.
 */
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { before, describe, test } from "node:test";
import {
  decodeBatchPayload,
  encodeBatchPayload,
  type PartyId,
  ProtocolError,
  runLocal,
  type SignatureOutput,
  type Tamper,
} from "@custody/core";
import * as ecc from "tiny-secp256k1";
import { MAX_BATCH_BY_SCHEME, SCHEMES } from "../src/schemes.js";
import { beginSession, type SessionOutput } from "../src/session-spec.js";

const MiB = 1024 * 1024;

/** Shares of a fresh in-process DKG, encoded as a worker stores them. */
function dkg(scheme: string, parties: PartyId[], threshold: number): Map<PartyId, Uint8Array> {
  const s = SCHEMES.get(scheme)!;
  const sessionId = randomBytes(32);
  const run = runLocal(
    new Map(parties.map((p) => [p, () => s.keygen({ sessionId, self: p, parties, threshold })])),
  );
  assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
  return new Map([...run.results].map(([p, share]) => [p, s.encodeShare(share)]));
}

/** Every signer runs the batch session; returns each signer's signatures and the run. */
function signBatch(
  scheme: string,
  shares: Map<PartyId, Uint8Array>,
  signers: PartyId[],
  items: { message: Uint8Array; path?: number[] }[],
  tamper?: Tamper,
) {
  const sessionId = randomBytes(32);
  const run = runLocal(
    new Map(
      signers.map((self) => [
        self,
        () =>
          beginSession(
            SCHEMES,
            { op: "sign-batch", scheme, self, signers, share: shares.get(self)!, items },
            sessionId,
          ),
      ]),
    ),
    { tamper },
  );
  const sigs = new Map<PartyId, SignatureOutput[]>();
  for (const [p, out] of run.results)
    sigs.set(p, (out as Extract<SessionOutput, { signatures: unknown }>).signatures);
  return { run, sigs };
}

const verifyEd25519 = (sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array) =>
  verify(
    null,
    message,
    createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    }),
    sig,
  );

describe("signing batches of the real schemes", { timeout: 300_000 }, () => {
  let ed: Map<PartyId, Uint8Array>;
  let bip: Map<PartyId, Uint8Array>;
  before(() => {
    ed = dkg("ed25519", [1, 2, 3], 2);
    bip = dkg("bip340", [1, 2, 3], 2);
  });

  test("ed25519: 64 messages, every signature verifies (OpenSSL) over its own message", () => {
    const items = Array.from({ length: 64 }, (_, i) => ({ message: randomBytes(i) }));
    const { run, sigs } = signBatch("ed25519", ed, [1, 3], items);
    assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
    const mine = sigs.get(1)!;
    assert.deepEqual(sigs.get(3), mine);
    assert.equal(mine.length, 64);
    mine.forEach((s, i) => {
      assert.ok(verifyEd25519(s.signature, items[i]!.message, s.publicKey), `signature ${i}`);
      // Not over any other item's message.
      assert.ok(!verifyEd25519(s.signature, items[(i + 1) % 64]!.message, s.publicKey));
    });
  });

  test("bip340: items with their own paths, each verified (libsecp256k1) under its own key", () => {
    const items = [
      { message: randomBytes(32) },
      { message: randomBytes(32), path: [0, 5] },
      { message: randomBytes(32), path: [1] },
    ];
    const { run, sigs } = signBatch("bip340", bip, [2, 3], items);
    assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
    const out = sigs.get(2)!;
    assert.equal(new Set(out.map((s) => Buffer.from(s.publicKey).toString("hex"))).size, 3);
    out.forEach((s, i) => {
      assert.ok(ecc.verifySchnorr(items[i]!.message, s.publicKey, s.signature), `signature ${i}`);
    });
  });

  test("a truncated part of one instance aborts the batch, naming the sender", () => {
    const items = Array.from({ length: 8 }, () => ({ message: randomBytes(16) }));
    const tamper: Tamper = (m, to) => {
      if (m.from !== 2 || to !== 1 || m.round !== 1) return m;
      const parts = decodeBatchPayload(m.payload, 8, 2);
      parts[3] = parts[3]!.subarray(1);
      return { ...m, payload: encodeBatchPayload(parts) };
    };
    const { run } = signBatch("ed25519", ed, [1, 2], items, tamper);
    const e = run.errors.get(1);
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.kind, "bad-message");
    assert.deepEqual([...e.culprits], [2]);
    assert.match(e.message, /^batch item 3: /);
  });

  test("ecdsa-secp256k1: the largest batch verifies (libsecp256k1) and every batch message fits the broker", () => {
    const shares = dkg("ecdsa-secp256k1", [1, 2], 2);
    const k = MAX_BATCH_BY_SCHEME.get("ecdsa-secp256k1")!;
    const items = Array.from({ length: k }, (_, i) => ({
      message: randomBytes(32),
      path: i % 2 ? [i] : undefined,
    }));
    let largest = 0;
    const { run, sigs } = signBatch("ecdsa-secp256k1", shares, [1, 2], items, (m) => {
      largest = Math.max(largest, m.payload.length);
      return m;
    });
    assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
    sigs.get(1)!.forEach((s, i) => {
      assert.ok(ecc.verify(items[i]!.message, s.publicKey, s.signature, true), `signature ${i}`);
    });
    // The broker takes 2 MiB; leave room for the envelope (ids, signature, AEAD tag, protobuf).
    assert.ok(largest < 2 * MiB - 64 * 1024, `largest batch message ${largest} bytes`);
    assert.ok(largest > (k - 1) * 40_000, "the measure covers the OT-extension round");
  });
});
