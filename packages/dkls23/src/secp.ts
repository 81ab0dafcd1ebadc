/**
 * libsecp256k1 adapter (tiny-secp256k1, WebAssembly): constant-time scalar multiplication for
 * secret scalars, strict decoding of received points, and the batch representation used by the
 * base OTs: an affine point as 65 uncompressed SEC1 bytes (`04 ‖ x ‖ y`), which libsecp256k1
 * parses without a square root and which compresses by a byte operation.
 *
 * What is constant-time (libsecp256k1, see docs/protocols.md "Constant-time review"):
 * `ctMul` is `secp256k1_ec_pubkey_tweak_mul` (`secp256k1_ecmult_const`), `ctMulG` is
 * `secp256k1_ec_pubkey_create` (blinded `secp256k1_ecmult_gen`), `ctAdd` is
 * `secp256k1_ec_pubkey_combine` (`secp256k1_gej_add_ge`, constant-time inversion); they branch only
 * on a zero scalar or an identity result, which our callers never produce from secrets.
 * @module
 */
import { check, ProtocolError } from "@custody/core";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import * as ecc from "tiny-secp256k1";

const N = secp256k1.Point.Fn.ORDER;
type Point = InstanceType<typeof secp256k1.Point>;

/** An affine secp256k1 point as 65 uncompressed SEC1 bytes (never the identity). */
export type Affine = Uint8Array;

/** Length of an {@link Affine} encoding. */
export const AFFINE_BYTES = 65;

function scalar32(k: bigint): Uint8Array {
  if (k <= 0n || k >= N) throw new ProtocolError("internal", "secp: scalar out of range");
  const out = new Uint8Array(32);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) dv.setBigUint64(8 * i, (k >> BigInt(192 - 64 * i)) & 0xffffffffffffffffn);
  return out;
}

/** `k·P` for a secret scalar `k` in [1, n): libsecp256k1 `ecmult_const`. */
export function ctMul(P: Affine, k: bigint): Affine {
  const out = ecc.pointMultiply(P, scalar32(k), false);
  if (!out) throw new ProtocolError("internal", "secp: multiplication failed");
  return out;
}

/** `k·G` for a secret scalar `k` in [1, n): libsecp256k1 blinded `ecmult_gen`. */
export function ctMulG(k: bigint): Affine {
  const out = ecc.pointFromScalar(scalar32(k), false);
  if (!out) throw new ProtocolError("internal", "secp: multiplication failed");
  return out;
}

/** `A + B` (constant-time addition); `undefined` when the sum is the identity. */
export function ctAdd(A: Affine, B: Affine): Affine | undefined {
  return ecc.pointAdd(A, B, false) ?? undefined;
}

/**
 * Selects `bit ? a : b` between two equal-length byte strings without a secret-dependent branch
 * or memory access.
 */
export function ctSelect(bit: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  const mask = -(bit & 1) & 0xff;
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = b[i]! ^ ((a[i]! ^ b[i]!) & mask);
  return out;
}

/** Compressed SEC1 encoding (33 bytes) of an affine point: the parity of y selects the prefix. */
export function compress(P: Affine): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = 2 | (P[64]! & 1);
  out.set(P.subarray(1, 33), 1);
  return out;
}

/**
 * Decodes a received compressed point with libsecp256k1's parser: exactly 33 bytes with prefix 2
 * or 3 (so never the identity), x < p and on the curve.
 * @throws ProtocolError `bad-message` blaming `from`.
 */
export function decompress(bytes: Uint8Array, from: number, what: string): Affine {
  check(bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3), from, `${what}: not a compressed point`);
  let P: Uint8Array | undefined;
  try {
    P = ecc.pointCompress(bytes, false);
  } catch {
    P = undefined;
  }
  check(P !== undefined, from, `${what}: not on the curve`);
  return P;
}

/** A noble point (not the identity) in the affine batch representation. */
export function toAffine(p: Point): Affine {
  return p.toBytes(false);
}

/** The noble point of an affine encoding produced by libsecp256k1 (checked on the curve again). */
export function fromAffine(P: Affine): Point {
  return secp256k1.Point.fromBytes(P);
}
