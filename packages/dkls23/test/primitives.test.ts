import assert from "node:assert/strict";
import { test } from "node:test";
import { secp256k1, secp256k1_hasher } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { deriveChild, xpub } from "../src/bip32.js";
import { bytesToBig, mod, randomScalar } from "../src/group.js";
import { HG } from "../src/hash.js";
import {
  baseOtContext,
  baseOtReceive,
  baseOtSenderFinish,
  baseOtSenderStart,
  bit,
} from "../src/ot/base-ot.js";
import { gfEqual, gfFromBytes, gfMul, gfToBytes } from "../src/ot/gf128.js";
import { KAPPA, tag } from "../src/params.js";
import { evalPoly, lagrangeAtZero } from "../src/poly.js";
import { zeroShare } from "../src/zero-share.js";

test("RFC 9380 secp256k1_XMD:SHA-256_SSWU_RO_ vectors (the hasher behind HG)", () => {
  const DST = utf8ToBytes("QUUX-V01-CS02-with-secp256k1_XMD:SHA-256_SSWU_RO_");
  const vectors: [string, string, string][] = [
    [
      "",
      "c1cae290e291aee617ebaef1be6d73861479c48b841eaba9b7b5852ddfeb1346",
      "64fa678e07ae116126f08b022a94af6de15985c996c3a91b64c406a960e51067",
    ],
    [
      "abc",
      "3377e01eab42db296b512293120c6cee72b6ecf9f9205760bd9ff11fb3cb2c4b",
      "7f95890f33efebd1044d382a01b1bee0900fb6116f94688d487c6c7b9c8371f6",
    ],
  ];
  for (const [msg, x, y] of vectors) {
    const P = secp256k1_hasher.hashToCurve(utf8ToBytes(msg), { DST }).toAffine();
    assert.equal(P.x.toString(16).padStart(64, "0"), x);
    assert.equal(P.y.toString(16).padStart(64, "0"), y);
  }
  // HG is exactly that hasher with our prefixed DST.
  const m = randomBytes(40);
  const want = secp256k1_hasher.hashToCurve(m, { DST: utf8ToBytes(tag("ot/base/h")) });
  assert.ok(HG("ot/base/h", m).equals(want));
});

test("GF(2^128) identities", () => {
  const X = (k: number) => {
    const b = new Uint8Array(16);
    b[k >> 3] = 1 << (k & 7);
    return gfFromBytes(b);
  };
  // X^127 · X = X^7 + X^2 + X + 1
  const want = new Uint8Array(16);
  want[0] = 0x87;
  assert.deepEqual(gfToBytes(gfMul(X(127), X(1))), want);
  for (let i = 0; i < 5; i++) {
    const a = gfFromBytes(randomBytes(16));
    const b = gfFromBytes(randomBytes(16));
    const c = gfFromBytes(randomBytes(16));
    // commutativity and distributivity
    assert.ok(gfEqual(gfMul(a, b), gfMul(b, a)));
    const bc = b.map((v, k) => v ^ c[k]!);
    const lhs = gfMul(a, bc);
    const rhs = gfMul(a, b).map((v, k) => v ^ gfMul(a, c)[k]!);
    assert.ok(gfEqual(lhs, rhs));
    // Frobenius: a^(2^128) = a
    let p = a;
    for (let k = 0; k < 128; k++) p = gfMul(p, p);
    assert.ok(gfEqual(p, a));
  }
});

test("base OT: receiver gets exactly k^{Δ_k}; tampered proof names the receiver", () => {
  const T = baseOtContext(randomBytes(32), 1, 2);
  const delta = randomBytes(KAPPA / 8);
  const { msg, secret } = baseOtSenderStart(T);
  const rec = baseOtReceive(T, delta, msg, 1);
  const { k0, k1 } = baseOtSenderFinish(T, secret, rec.msg, 2);
  for (let k = 0; k < KAPPA; k++) {
    const mine = bytesToHex(rec.keys.subarray(32 * k, 32 * k + 32));
    const [want, other] = bit(delta, k) ? [k1, k0] : [k0, k1];
    assert.equal(mine, bytesToHex(want.subarray(32 * k, 32 * k + 32)));
    assert.notEqual(mine, bytesToHex(other.subarray(32 * k, 32 * k + 32)));
  }
  const inst = [...rec.msg.inst];
  inst[7] = { ...inst[7]!, z0: mod(inst[7]!.z0 + 1n) };
  assert.throws(
    () => baseOtSenderFinish(T, secret, { ...rec.msg, inst }, 2),
    (e: { kind?: string; culprits?: number[] }) => e.kind === "bad-message" && e.culprits?.[0] === 2,
  );
});

test("zero shares sum to zero over any subset", () => {
  const parties = [1, 2, 3, 4, 5, 6, 7, 8];
  const seeds = new Map<string, Uint8Array>();
  for (const i of parties) for (const j of parties) if (i < j) seeds.set(`${i}-${j}`, randomBytes(32));
  const seedsOf = (i: number) =>
    new Map(parties.filter((j) => j !== i).map((j) => [j, seeds.get(i < j ? `${i}-${j}` : `${j}-${i}`)!]));
  for (const S of [parties, [2, 5], [1, 3, 8]]) {
    const sid = randomBytes(32);
    const sum = S.reduce((acc, i) => acc + zeroShare(i, S, seedsOf(i), sid), 0n);
    assert.equal(mod(sum), 0n);
  }
});

test("Lagrange interpolation at 0 recovers the constant term", () => {
  const poly = [randomScalar(), randomScalar(), randomScalar()];
  for (const S of [
    [1, 2, 3],
    [2, 4, 5],
    [1, 3, 255],
  ]) {
    const got = S.reduce((acc, i) => acc + lagrangeAtZero(i, S) * evalPoly(poly, i), 0n);
    assert.equal(mod(got), poly[0]);
  }
});

test("BIP32: public derivation KAT (spec §8) and official vector 2", () => {
  const sk = hexToBytes("6728f18f7163f7a0c11cc0ad53140afb4e345d760f966176865a860041549903");
  const cc = hexToBytes("6f990adb9337033001af2487a8617f68586c4ea17433492bbf1659f6e4cf9564");
  const d = deriveChild(secp256k1.getPublicKey(sk, true), cc, [0, 1, 2, 3]);
  assert.equal(bytesToHex(d.publicKey), "037c892dca96d4c940aafb3a1e65f470e43fba57b3146efeb312c2a39a208fffaa");
  assert.equal(bytesToHex(d.chainCode), "c6536c2f5c232aa7613652831b7a3b21e97f4baa3114a3837de3764759f5b2aa");
  assert.equal(bytesToHex(d.parentFingerprint), "9502bb8b");
  assert.equal(d.depth, 4);
  const childSk = mod(bytesToBig(sk) + d.tweak);
  assert.equal(childSk.toString(16), "bdebf4ed48fae0b5b3ed6671496f7e1d741996dbb30d79f990933892c8ed316a");
  // BIP32 test vector 2: m → m/0 (non-hardened), derived from the master xpub alone.
  const master =
    "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB";
  const raw = base58checkDecode(master);
  const pk = raw.slice(45, 78);
  const chain = raw.slice(13, 45);
  assert.equal(xpub(pk, chain), master);
  const c = deriveChild(pk, chain, [0]);
  assert.equal(
    xpub(c.publicKey, c.chainCode, c),
    "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH",
  );
});

function base58checkDecode(s: string): Uint8Array {
  const A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let v = 0n;
  for (const ch of s) v = v * 58n + BigInt(A.indexOf(ch));
  const hex = v.toString(16).padStart(2 * 82, "0");
  const b = hexToBytes(hex);
  assert.deepEqual(sha256(sha256(b.slice(0, 78))).slice(0, 4), b.slice(78));
  return b.slice(0, 78);
}
