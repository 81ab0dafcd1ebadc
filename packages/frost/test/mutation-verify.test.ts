/**
 * The final checks of signing, driven directly: the `ed25519` suite's verifier (OpenSSL first)
 * must give noble's strict RFC 8032 verdict on edge-case vectors where OpenSSL alone differs, and
 * a signer whose own signature share is wrong aborts as `internal` blaming nobody, since only on
 * a failed aggregate are the other signers' shares checked.
 */
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { describe, it } from "node:test";
import { ProtocolError, type SignatureOutput, type Step } from "@custody/core";
import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, concatBytes, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import { commitNonces, prepareSigning, signWithPackage } from "../src/sign/primitives.js";
import { SignRound2 } from "../src/sign/round2.js";
import { keygenOk, range, sid } from "./helpers.js";

const { Point } = ed25519;
const L = Point.Fn.ORDER;
const le = (n: bigint) => numberToBytesLE(n, 32);
const challenge = (R: Uint8Array, A: Uint8Array, m: Uint8Array) =>
  bytesToNumberLE(sha512(concatBytes(R, A, m))) % L;
const openssl = (sig: Uint8Array, m: Uint8Array, A: Uint8Array) =>
  verify(
    null,
    m,
    createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(A).toString("base64url") },
      format: "jwk",
    }),
    sig,
  );

describe("ed25519 final verification: OpenSSL with noble's strict verdict", () => {
  const a = Point.Fn.create(bytesToNumberLE(randomBytes(32)));
  const A = Point.BASE.multiply(a).toBytes();
  const m = new Uint8Array(randomBytes(32));
  const T = Point.fromBytes(hexToBytes(ED25519_TORSION_SUBGROUP[1]!));
  /** R || S with S = r + k·a for the given R encoding and nonce r. */
  const sign = (R: Uint8Array, r: bigint, key = A, secret = a, msg = m) =>
    concatBytes(R, le((r + challenge(R, key, msg) * secret) % L));
  const r = Point.Fn.create(bytesToNumberLE(randomBytes(32)));
  const valid = sign(Point.BASE.multiply(r).toBytes(), r);
  const mixedR = Point.BASE.multiply(r).add(T).toBytes();
  const mixedA = Point.BASE.multiply(a).add(T).toBytes();
  // With mixed-order A the cofactorless equation fails by k·T, which is the identity when
  // k ≡ 0 (mod 8): pick a message whose challenge is not, so OpenSSL alone refuses every run.
  const R0 = Point.BASE.multiply(r).toBytes();
  let mixedMsg = m;
  for (let i = 0; challenge(R0, mixedA, mixedMsg) % 8n === 0n; i++)
    mixedMsg = concatBytes(m, Uint8Array.of(i));
  // Small-order A = T: R = identity, S = 0 satisfy both equations when k ≡ 0 (mod 8).
  const identity = Point.ZERO.toBytes();
  let smallMsg = m;
  for (let i = 0; challenge(identity, T.toBytes(), smallMsg) % 8n !== 0n; i++)
    smallMsg = concatBytes(m, Uint8Array.of(i));
  const p = 2n ** 255n - 19n;
  const cases: [string, Uint8Array, Uint8Array, Uint8Array, boolean, boolean][] = [
    // name, signature, message, key, noble-strict verdict, OpenSSL-alone verdict
    ["valid", valid, m, A, true, true],
    ["mixed-order R (cofactored only)", sign(mixedR, r), m, A, true, false],
    ["mixed-order A (cofactored only)", sign(R0, r, mixedA, a, mixedMsg), mixedMsg, mixedA, true, false],
    ["small-order A, both equations hold", concatBytes(identity, le(0n)), smallMsg, T.toBytes(), false, true],
    [
      "S = S + L",
      concatBytes(valid.subarray(0, 32), le(bytesToNumberLE(valid.subarray(32)) + L)),
      m,
      A,
      false,
      false,
    ],
    [
      "non-canonical R (y = p + 1), equation false",
      concatBytes(le(p + 1n), valid.subarray(32)),
      m,
      A,
      false,
      false,
    ],
    // The identity under its two non-canonical encodings, S = k·a: both equations hold (ZIP-215 accepts).
    ...[le(p + 1n), le(1n + 2n ** 255n)].map(
      (R): [string, Uint8Array, Uint8Array, Uint8Array, boolean, boolean] => [
        `non-canonical R = identity (${R[31] === 0x80 ? "x = 0 with the sign bit" : "y = p + 1"}), equations true`,
        sign(R, 0n),
        m,
        A,
        false,
        false,
      ],
    ),
    ["other message", valid, new Uint8Array(32), A, false, false],
  ];
  for (const [name, sig, msg, key, strict, alone] of cases) {
    it(`${name}: ${strict ? "accepted" : "refused"}`, () => {
      assert.equal(ed25519.verify(sig, msg, key, { zip215: false }), strict, "noble strict");
      assert.equal(openssl(sig, msg, key), alone, "OpenSSL alone");
      if (name.endsWith("equations true"))
        assert.equal(ed25519.verify(sig, msg, key, { zip215: true }), true);
      assert.equal(ed25519Suite.verify(sig, msg, key), strict);
      assert.equal(ed25519Suite.verify(sig, msg, key), strict, "cached key, same verdict");
    });
  }
  it("refuses wrong lengths, non-canonical keys (y = p + 1; x = 0 with the sign bit) and an off-curve key", () => {
    assert.equal(ed25519Suite.verify(valid.subarray(0, 63), m, A), false);
    assert.equal(ed25519Suite.verify(concatBytes(valid, Uint8Array.of(0)), m, A), false);
    assert.equal(ed25519Suite.verify(valid, m, A.subarray(0, 31)), false);
    const negZero = le(1n + 2n ** 255n); // y = 1 (x = 0) with the sign bit set
    for (const key of [le(p + 1n), negZero]) assert.equal(ed25519Suite.verify(valid, m, key), false);
    let y = 2n;
    const decodes = (b: Uint8Array) => {
      try {
        Point.fromBytes(b);
        return true;
      } catch {
        return false;
      }
    };
    while (decodes(le(y))) y++;
    assert.equal(ed25519Suite.verify(valid, m, le(y)), false);
  });
});

for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  describe(`${scheme.name} signing round 2, own share`, () => {
    const shares = keygenOk(scheme, range(3), 2);
    const message = new Uint8Array(randomBytes(32));
    /** Party 1's round 2 with its own share `z1` or that plus `delta`, fed party 2's valid share. */
    const finalize = (delta: bigint): Step<SignatureOutput> => {
      const rng = (n = 32) => new Uint8Array(randomBytes(n));
      const [s1, s2] = [shares.get(1)!, shares.get(2)!];
      const c1 = commitNonces(suite, s1, rng);
      const c2 = commitNonces(suite, s2, rng);
      const list = [c1.commitment, c2.commitment];
      const pkg1 = prepareSigning(suite, s1, list, message);
      const z1 = signWithPackage(pkg1, s1, c1.nonces);
      const z2 = signWithPackage(prepareSigning(suite, s2, list, message), s2, c2.nonces);
      const hash = new Uint8Array(32);
      const ctx = {
        suite,
        sessionId: sid(),
        share: s1,
        path: [],
        taproot: undefined,
        signers: [1, 2],
        message,
      };
      const own = suite.encodeScalar(suite.Fn.add(suite.decodeScalar(z1), delta));
      const round = new SignRound2(ctx, pkg1, hash, own);
      round.receive({ round: 2, from: 2, to: "all", payload: concatBytes(hash, z2) });
      return round.finalize();
    };
    it("a correct own share gives the verified signature", () => {
      const step = finalize(0n);
      assert.equal(step.kind, "done");
      if (step.kind !== "done") return;
      assert.ok(suite.verify(step.result.signature, message, step.result.publicKey));
    });
    it("a wrong own share is an internal abort blaming nobody, and releases nothing", () => {
      assert.throws(
        () => finalize(1n),
        (e: unknown) => e instanceof ProtocolError && e.kind === "internal" && e.culprits.length === 0,
      );
    });
  });
}
