/**
 * secp256k1 group helpers: noble points for public arithmetic, libsecp256k1 (./secp.ts) for every
 * multiplication by a secret scalar and for decoding received points; strict decoding of received
 * points and scalars (spec dkls23.md §2 decoding rules), random scalars, byte/scalar conversions.
 * @module
 */
import { check } from "@custody/core";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { ctMul, ctMulG, decompress, fromAffine, toAffine } from "./secp.js";

/** A secp256k1 point (noble projective point). */
export type Point = InstanceType<typeof secp256k1.Point>;
/** The point constructor. */
export const Point = secp256k1.Point;
/** The generator G. */
export const G: Point = Point.BASE;
/** The group order n. */
export const N: bigint = Point.Fn.ORDER;

/** `a mod n` in [0, n). */
export function mod(a: bigint): bigint {
  const r = a % N;
  return r < 0n ? r + N : r;
}

/** Modular inverse of a non-zero scalar. */
export function inv(a: bigint): bigint {
  return Point.Fn.inv(mod(a));
}

/** Big-endian bytes to an unsigned bigint (any length). */
export function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  let i = 0;
  for (; i + 8 <= b.length; i += 8) v = (v << 64n) | dv.getBigUint64(i);
  for (; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** Reduces big-endian bytes modulo n. */
export function bytesToScalarMod(b: Uint8Array): bigint {
  return bytesToBig(b) % N;
}

/** A scalar as 32 big-endian bytes, written into `out` at `off` (allocates when omitted). */
export function scalarToBytes(s: bigint, out = new Uint8Array(32), off = 0): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset + off, 32);
  dv.setBigUint64(0, (s >> 192n) & 0xffffffffffffffffn);
  dv.setBigUint64(8, (s >> 128n) & 0xffffffffffffffffn);
  dv.setBigUint64(16, (s >> 64n) & 0xffffffffffffffffn);
  dv.setBigUint64(24, s & 0xffffffffffffffffn);
  return out;
}

/** A uniformly random scalar in [1, n) from 48 CSPRNG bytes (bias < 2^-128). */
export function randomScalar(): bigint {
  for (;;) {
    const s = bytesToBig(randomBytes(48)) % N;
    if (s !== 0n) return s;
  }
}

/** Compressed SEC1 encoding (33 bytes). The identity has no encoding and throws. */
export function pointToBytes(p: Point): Uint8Array {
  return p.toBytes(true);
}

/**
 * Decodes a received point: exactly 33 bytes, on the curve (libsecp256k1's parser; a compressed
 * encoding is never the identity).
 * @throws ProtocolError `bad-message` blaming `from`.
 */
export function decodePoint(bytes: Uint8Array, from: number, what: string): Point {
  return fromAffine(decompress(bytes, from, what));
}

/**
 * Decodes a received scalar: exactly 32 bytes and canonical (< n); non-zero when `nonZero`.
 * @throws ProtocolError `bad-message` blaming `from`.
 */
export function decodeScalar(bytes: Uint8Array, from: number, what: string, nonZero = false): bigint {
  check(bytes.length === 32, from, `${what}: scalar must be 32 bytes`);
  const s = bytesToBig(bytes);
  check(s < N, from, `${what}: non-canonical scalar`);
  check(!nonZero || s !== 0n, from, `${what}: zero scalar`);
  return s;
}

/**
 * Multiplies a point by a secret scalar in [1, n) with libsecp256k1's constant-time
 * `ecmult_const`; the identity stays the identity. Use `multiplyUnsafe` / `mulAddUnsafe` / MSMs
 * only when every scalar and point is public.
 */
export function mulSecret(p: Point, k: bigint): Point {
  if (p.is0()) return Point.ZERO;
  return fromAffine(ctMul(toAffine(p), k));
}

/** `k·G` for a secret scalar (libsecp256k1's blinded constant-time `ecmult_gen`); `0·G` is the identity. */
export function mulG(k: bigint): Point {
  if (k === 0n) return Point.ZERO;
  return fromAffine(ctMulG(k));
}

/** Constant-time equality of two byte strings of equal length. */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** XOR of two equal-length byte strings into a new array. */
export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
