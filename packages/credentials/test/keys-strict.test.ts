/**
 * NKey signatures on node:crypto decide exactly as the strict noble verifier they replaced
 * (`ed25519.verify(…, { zip215: false })`), on edge-case vectors built here that tell cofactored
 * from cofactorless verification and strict from ZIP-215 decoding, including those where OpenSSL
 * alone would decide otherwise; signing gives the same deterministic bytes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes } from "@noble/hashes/utils.js";
import { base32nopad } from "@scure/base";
import { createClientKey } from "../src/index.js";
import { rawPublicKey, signWithSeed, verifyWithPublicKey } from "../src/keys.js";

const Point = ed25519.Point;
const Fn = Point.Fn;
const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const fromLe = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array) =>
  Fn.create(fromLe(sha512(concatBytes(r, a, m))));

/** CRC-16/XMODEM, as NKeys append it (little endian). */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
/** The user NKey (`U…`) naming raw public key bytes, whatever they are. */
function userNkey(raw: Uint8Array): string {
  const body = concatBytes(new Uint8Array([20 << 3]), raw);
  const crc = crc16(body);
  return base32nopad.encode(concatBytes(body, new Uint8Array([crc & 0xff, crc >> 8])));
}

/** A point of order exactly 8. */
function torsion8() {
  for (;;) {
    try {
      const q = Point.fromBytes(randomBytes(32));
      const t = q.multiplyUnsafe(Fn.ORDER - 1n).add(q);
      if (!t.double().double().is0()) return t;
    } catch {
      // not the encoding of a point: draw again (no assertion lives here)
    }
  }
}

test("NKey verification decides edge cases exactly as noble strict", () => {
  const T8 = torsion8();
  const a = Fn.create(fromLe(randomBytes(64)));
  const A = Point.BASE.multiply(a);
  const r = Fn.create(fromLe(randomBytes(64)));
  const R = Point.BASE.multiply(r);
  const m = randomBytes(50);
  const sign = (key: Uint8Array, rBytes: Uint8Array, rs: bigint, msg = m) =>
    concatBytes(rBytes, le(Fn.create(rs + challenge(rBytes, key, msg) * a)));
  const identity = Point.ZERO.toBytes();
  let smallOrderMsg = m;
  for (let i = 0; challenge(identity, T8.toBytes(), smallOrderMsg) % 8n !== 0n; i++)
    smallOrderMsg = concatBytes(m, new Uint8Array([i]));
  const cases: [string, Uint8Array, Uint8Array, Uint8Array, boolean][] = [
    ["honest", A.toBytes(), m, sign(A.toBytes(), R.toBytes(), r), true],
    ["mixed-order R", A.toBytes(), m, sign(A.toBytes(), R.add(T8).toBytes(), r), true],
    ["small-order R", A.toBytes(), m, sign(A.toBytes(), T8.toBytes(), 0n), true],
    ["non-canonical R", A.toBytes(), m, sign(A.toBytes(), le(2n ** 255n - 18n), 0n), false],
    ["small-order A", T8.toBytes(), smallOrderMsg, concatBytes(identity, le(0n)), false],
    ["non-canonical A", le(2n ** 255n - 18n), m, concatBytes(identity, le(0n)), false],
  ];
  for (const [name, key, msg, sig, expected] of cases) {
    assert.equal(ed25519.verify(sig, msg, key, { zip215: false }), expected, `${name}: noble strict`);
    const nkey = userNkey(key);
    assert.deepEqual(rawPublicKey(nkey), key, `${name}: NKey round trip`);
    assert.equal(verifyWithPublicKey(nkey, msg, sig), expected, name);
    assert.equal(verifyWithPublicKey(nkey, msg, sig), expected, `${name}: cached key`);
  }
  // The non-canonical R vector is one ZIP-215 would accept: strictness is what refuses it.
  assert.equal(ed25519.verify(cases[3]![3], m, A.toBytes(), { zip215: true }), true);
});

test("NKey signing gives noble's signature; malformed input is false, never a throw", () => {
  const client = createClientKey();
  const raw = base32nopad.decode(client.seed).subarray(2, 34);
  const message = randomBytes(77);
  const sig = signWithSeed(client.seed, message);
  assert.deepEqual(sig, ed25519.sign(message, raw));
  assert.equal(verifyWithPublicKey(client.publicKey, message, sig), true);
  assert.equal(verifyWithPublicKey(client.publicKey, message, sig.subarray(1)), false);
  const badCrc = `${client.publicKey.slice(0, -1)}${client.publicKey.endsWith("A") ? "B" : "A"}`;
  assert.equal(verifyWithPublicKey(badCrc, message, sig), false, "bad checksum");
  assert.equal(verifyWithPublicKey("not an nkey", message, sig), false);
});
