/**
 * The secure channel's primitives on node:crypto decide and produce exactly what the @noble
 * implementations they replaced did:
 * - Ed25519 verification is strict RFC 8032 as `ed25519.verify(…, { zip215: false })`: edge-case
 *   vectors built here (in the spirit of "Taming the many EdDSAs") that tell cofactored from
 *   cofactorless verification and strict from ZIP-215 decoding get the old verdict, including those
 *   where OpenSSL alone would decide otherwise;
 * - signatures, X25519 shared secrets, HKDF keys and ChaCha20-Poly1305 ciphertexts are byte-equal.
 */
import assert from "node:assert/strict";
import { createPublicKey, verify as opensslVerify } from "node:crypto";
import { test } from "node:test";
import { frame } from "@custody/core";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes } from "@noble/hashes/utils.js";
import { ephemeralKeyPair, type PartyIdentity, SessionCipher, signAs, verifyFrom } from "../src/index.js";

const Point = ed25519.Point;
type P = InstanceType<typeof Point>;
const Fn = Point.Fn;
const L = Fn.ORDER;
const P25519 = 2n ** 255n - 19n;
const le = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};
const fromLe = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
/** k = SHA-512(R || A || M) mod L, over the exact bytes. */
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array) =>
  Fn.create(fromLe(sha512(concatBytes(r, a, m))));
const randomScalar = () => Fn.create(fromLe(randomBytes(64)));

/** A point of order exactly 8: the torsion part [L]Q of random points until one has order 8. */
function torsion8(): P {
  for (;;) {
    let q: P;
    try {
      q = Point.fromBytes(randomBytes(32));
    } catch {
      continue;
    }
    const t = q.multiplyUnsafe(L - 1n).add(q);
    if (!t.double().double().is0()) return t;
  }
}
const T8 = torsion8();

/** A signature by scalar `a` (public key bytes `aBytes`) with nonce point `R` (bytes `rBytes`). */
function signWith(a: bigint, aBytes: Uint8Array, rScalar: bigint, rBytes: Uint8Array, m: Uint8Array) {
  return concatBytes(rBytes, le(Fn.create(rScalar + challenge(rBytes, aBytes, m) * a)));
}

interface Vector {
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  /** Today's verdict: noble strict. */
  readonly strict: boolean;
  /** What OpenSSL alone says (proves the vector exercises a difference), when it matters. */
  readonly openssl?: boolean;
  /** What ZIP-215 says, when it differs from strict. */
  readonly zip215?: boolean;
}

function vectors(): Vector[] {
  const a = randomScalar();
  const A = Point.BASE.multiply(a);
  const aBytes = A.toBytes();
  const m = randomBytes(40);
  const r = randomScalar();
  const R = Point.BASE.multiply(r);
  const honest = signWith(a, aBytes, r, R.toBytes(), m);
  const out: Vector[] = [
    { name: "honest", publicKey: aBytes, message: m, signature: honest, strict: true, openssl: true },
    { name: "other message", publicKey: aBytes, message: randomBytes(40), signature: honest, strict: false },
  ];
  // S + L: non-canonical S, refused by every variant.
  const sPlusL = fromLe(honest.subarray(32)) + L;
  out.push({
    name: "S >= L",
    publicKey: aBytes,
    message: m,
    signature: concatBytes(honest.subarray(0, 32), le(sPlusL)),
    strict: false,
    openssl: false,
    zip215: false,
  });
  // R with a torsion component: only the cofactored equation holds.
  const mixedR = R.add(T8).toBytes();
  out.push({
    name: "mixed-order R (cofactored only)",
    publicKey: aBytes,
    message: m,
    signature: signWith(a, aBytes, r, mixedR, m),
    strict: true,
    openssl: false,
  });
  // R of small order (S = k·a): cofactored accepts, cofactorless refuses.
  out.push({
    name: "small-order R (cofactored only)",
    publicKey: aBytes,
    message: m,
    signature: signWith(a, aBytes, 0n, T8.toBytes(), m),
    strict: true,
    openssl: false,
  });
  // A public key with a torsion component: strict (not small order) accepts it, cofactored only.
  const mixedA = A.add(T8);
  for (let i = 0; ; i++) {
    const mi = concatBytes(m, new Uint8Array([i]));
    const sig = signWith(a, mixedA.toBytes(), r, R.toBytes(), mi);
    // k·T vanishes when 8 | k: then cofactorless holds too; take a message where it does not.
    if (challenge(R.toBytes(), mixedA.toBytes(), mi) % 8n === 0n) continue;
    out.push({
      name: "mixed-order A (cofactored only)",
      publicKey: mixedA.toBytes(),
      message: mi,
      signature: sig,
      strict: true,
      openssl: false,
    });
    break;
  }
  // A of small order, R = identity, S = 0, message with 8 | k: both equations hold (OpenSSL accepts),
  // strict refuses small-order keys.
  const identity = Point.ZERO.toBytes();
  for (let i = 0; ; i++) {
    const mi = concatBytes(m, new Uint8Array([i]));
    if (challenge(identity, T8.toBytes(), mi) % 8n !== 0n) continue;
    out.push({
      name: "small-order A",
      publicKey: T8.toBytes(),
      message: mi,
      signature: concatBytes(identity, le(0n)),
      strict: false,
      openssl: true,
      zip215: true,
    });
    break;
  }
  // The identity as A (canonical), any S·B = 0 signature: refused as small order.
  out.push({
    name: "identity A",
    publicKey: identity,
    message: m,
    signature: concatBytes(identity, le(0n)),
    strict: false,
    openssl: true,
  });
  // R = the identity encoded non-canonically (y = p + 1), S = k·a: ZIP-215 accepts, strict refuses.
  const rNonCanonical = le(P25519 + 1n);
  out.push({
    name: "non-canonical R (y >= p)",
    publicKey: aBytes,
    message: m,
    signature: signWith(a, aBytes, 0n, rNonCanonical, m),
    strict: false,
    openssl: false,
    zip215: true,
  });
  // R = the identity with the sign bit set although x = 0: ZIP-215 accepts, strict refuses.
  const rSignedZero = Point.ZERO.toBytes();
  rSignedZero[31]! |= 0x80;
  out.push({
    name: "non-canonical R (x = 0, sign bit set)",
    publicKey: aBytes,
    message: m,
    signature: signWith(a, aBytes, 0n, rSignedZero, m),
    strict: false,
    zip215: true,
  });
  // A = the identity encoded non-canonically, and with the sign bit set: refused.
  const aSignedZero = Point.ZERO.toBytes();
  aSignedZero[31]! |= 0x80;
  for (const [name, key] of [
    ["non-canonical A (y >= p)", le(P25519 + 1n)],
    ["non-canonical A (x = 0, sign bit set)", aSignedZero],
  ] as const)
    out.push({ name, publicKey: key, message: m, signature: concatBytes(identity, le(0n)), strict: false });
  // A point encoding off the curve.
  for (let y = 2n; ; y++) {
    try {
      Point.fromBytes(le(y));
    } catch {
      out.push({ name: "A off the curve", publicKey: le(y), message: m, signature: honest, strict: false });
      break;
    }
  }
  return out;
}

const opensslAlone = (v: Vector) =>
  opensslVerify(
    null,
    v.message,
    createPublicKey({
      key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), v.publicKey]),
      format: "der",
      type: "spki",
    }),
    v.signature,
  );

test("edge-case vectors: the verifier decides exactly as noble's strict verify (several rounds)", () => {
  for (let round = 0; round < 4; round++) {
    for (const v of vectors()) {
      const noble = ed25519.verify(v.signature, v.message, v.publicKey, { zip215: false });
      assert.equal(noble, v.strict, `${v.name}: the vector is what it claims under noble strict`);
      if (v.zip215 !== undefined)
        assert.equal(
          ed25519.verify(v.signature, v.message, v.publicKey, { zip215: true }),
          v.zip215,
          `${v.name}: ZIP-215`,
        );
      if (v.openssl !== undefined) assert.equal(opensslAlone(v), v.openssl, `${v.name}: OpenSSL alone`);
      const directory = new Map([[7, v.publicKey]]);
      // Twice: the first call validates and caches the key, the second uses the cache.
      assert.equal(verifyFrom(directory, 7, v.message, v.signature), v.strict, `${v.name}: verifyFrom`);
      assert.equal(verifyFrom(directory, 7, v.message, v.signature), v.strict, `${v.name}: cached`);
    }
  }
});

test("random tampering: verifyFrom agrees with noble strict on every flipped bit of a signature", () => {
  const secretKey = ed25519.utils.randomSecretKey();
  const id: PartyIdentity = { party: 1, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
  const message = randomBytes(64);
  const sig = signAs(id, message);
  const directory = new Map([[1, id.publicKey]]);
  for (let bit = 0; bit < 512; bit += 3) {
    const bad = Uint8Array.from(sig);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(
      verifyFrom(directory, 1, message, bad),
      ed25519.verify(bad, message, id.publicKey, { zip215: false }),
      `bit ${bit}`,
    );
  }
  assert.equal(verifyFrom(directory, 2, message, sig), false, "unknown party");
  assert.equal(verifyFrom(directory, 1, message, sig.subarray(0, 63)), false, "short signature");
});

test("signAs gives noble's (deterministic RFC 8032) signature bytes", () => {
  for (let i = 0; i < 5; i++) {
    const secretKey = ed25519.utils.randomSecretKey();
    const id: PartyIdentity = { party: 1, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
    const message = randomBytes(i * 37);
    assert.deepEqual(signAs(id, message), ed25519.sign(message, secretKey));
    assert.deepEqual(signAs(id, message), ed25519.sign(message, secretKey), "cached key");
  }
});

test("X25519, HKDF and ChaCha20-Poly1305 produce the same bytes as the noble construction", () => {
  const mine = ephemeralKeyPair();
  assert.deepEqual(x25519.getPublicKey(mine.secretKey), mine.publicKey, "exported key pair matches");
  const peer = x25519.keygen();
  // Top bit set on the peer's u-coordinate: RFC 7748 masks it, both must agree.
  const peerMasked = Uint8Array.from(peer.publicKey);
  peerMasked[31]! |= 0x80;
  for (const [secret, peerPublic] of [
    [mine.secretKey, peer.publicKey],
    [Uint8Array.from(mine.secretKey), peerMasked],
  ] as const) {
    const sid = randomBytes(32);
    const cipher = new SessionCipher(1, secret, new Map([[2, peerPublic]]), sid);
    const shared = x25519.getSharedSecret(secret, peerPublic);
    const key = (from: number, to: number) =>
      hkdf(sha256, shared, sid, frame("custody/p2p-key/v1", [from, to]), 32);
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(0, 3);
    const payload = randomBytes(1000);
    const expected = chacha20poly1305(key(1, 2), nonce, frame("custody/p2p-ad/v1", [sid, 1, 2, 3])).encrypt(
      payload,
    );
    assert.deepEqual(cipher.seal(2, 3, payload), expected);
    const incoming = chacha20poly1305(key(2, 1), nonce, frame("custody/p2p-ad/v1", [sid, 2, 1, 3])).encrypt(
      payload,
    );
    assert.deepEqual(cipher.open(2, 3, incoming), payload);
    const tampered = Uint8Array.from(incoming);
    tampered[5]! ^= 1;
    assert.throws(() => cipher.open(2, 3, tampered));
    assert.throws(() => cipher.open(2, 4, incoming), "another round's nonce");
    assert.throws(() => cipher.open(2, 3, incoming.subarray(0, 15)), "shorter than a tag");
    assert.deepEqual(
      cipher.seal(2, 3, new Uint8Array()),
      chacha20poly1305(key(1, 2), nonce, frame("custody/p2p-ad/v1", [sid, 1, 2, 3])).encrypt(
        new Uint8Array(),
      ),
      "empty payload",
    );
  }
});

test("a low-order X25519 peer key is refused", () => {
  const mine = ephemeralKeyPair();
  for (const low of [new Uint8Array(32), Uint8Array.from([1, ...new Uint8Array(31)])])
    assert.throws(
      () => new SessionCipher(1, mine.secretKey, new Map([[2, low]]), randomBytes(32)),
      /low-order/,
    );
});
