/**
 * BIP32 non-hardened (public) child derivation on secp256k1 for `bip340` keys, and the additive
 * key tweak it implies for threshold signing.
 *
 * Derivation is the standard `CKDpub` applied to the *full* group key (33-byte compressed, with
 * its real y parity, never the x-only form): `I = HMAC-SHA512(c, ser_P(P) || ser32(i))`,
 * `t = parse256(I_L)`, `P' = P + t·G`, `c' = I_R`. A step with `t ≥ n` or `P' = ∞` is rejected
 * (BIP32 says "proceed with the next index"; we leave that choice to the caller). The derived
 * secret is `x + Σ t`, so every party adds the same total tweak to its signing share and to every
 * verifying share; the BIP340 even-y normalisation of the child key is then applied by noble's
 * `schnorr_FROST` at signing time, exactly as for an untweaked key.
 * @module
 */
import { ProtocolError } from "@custody/core";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToNumberBE } from "@noble/curves/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";

const { Point } = secp256k1;
const Fn = Point.Fn;

/** First hardened index; derivation paths here only take indices below it. */
export const HARDENED_OFFSET = 0x80000000;
/** Longest accepted path (BIP32 serialises the depth in one byte). */
export const MAX_PATH_LENGTH = 255;

/** A non-hardened child of a BIP340 group key. */
export interface Bip340Child {
  /** Child public key, 33-byte compressed (real y parity). */
  readonly publicKey33: Uint8Array;
  /** Child BIP340 key: the 32-byte x-only form of `publicKey33` (what signatures verify under). */
  readonly xOnly: Uint8Array;
  /** Child chain code, 32 bytes. */
  readonly chainCode: Uint8Array;
  /** Sum of the per-step tweaks mod n: `child = parent + tweak·G` (0 for the empty path). */
  readonly tweak: bigint;
}

/**
 * Throws a `bad-input` ProtocolError unless `path` is an array of at most 255 integers in
 * `0..2^31-1` (non-hardened child indices).
 */
export function assertDerivationPath(path: unknown): asserts path is readonly number[] {
  if (!Array.isArray(path)) throw new ProtocolError("bad-input", "derivation path must be an array");
  if (path.length > MAX_PATH_LENGTH)
    throw new ProtocolError("bad-input", `derivation path longer than ${MAX_PATH_LENGTH} components`);
  for (const i of path) {
    if (!Number.isSafeInteger(i) || i < 0 || i >= HARDENED_OFFSET)
      throw new ProtocolError(
        "bad-input",
        `derivation index ${String(i)} is not a non-hardened index (0..2^31-1); hardened derivation is impossible without the private key`,
      );
  }
}

function ser32(i: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, i);
  return out;
}

/**
 * Derives the non-hardened child of `(groupKey33, chainCode)` along `path` (BIP32 `CKDpub`,
 * applied step by step). The empty path returns the key itself with tweak 0.
 * @param groupKey33 33-byte compressed secp256k1 point (the FROST group key, not x-only)
 * @param chainCode 32-byte chain code
 * @param path child indices, each in `0..2^31-1`, at most 255 of them
 * @throws ProtocolError (`bad-input`) on a malformed key, chain code or path, or when a step hits
 *   an invalid child (`I_L ≥ n` or the point at infinity; probability below 2^-127)
 */
export function deriveBip340Child(
  groupKey33: Uint8Array,
  chainCode: Uint8Array,
  path: readonly number[],
): Bip340Child {
  if (
    !(groupKey33 instanceof Uint8Array) ||
    groupKey33.length !== 33 ||
    (groupKey33[0] !== 2 && groupKey33[0] !== 3)
  )
    throw new ProtocolError("bad-input", "group key must be a 33-byte compressed secp256k1 point");
  if (!(chainCode instanceof Uint8Array) || chainCode.length !== 32)
    throw new ProtocolError("bad-input", "chain code must be 32 bytes");
  assertDerivationPath(path);
  let P: InstanceType<typeof Point>;
  try {
    P = Point.fromBytes(groupKey33);
    P.assertValidity();
  } catch (e) {
    throw new ProtocolError("bad-input", "group key is not a valid secp256k1 point", [], { cause: e });
  }
  let c = chainCode.slice();
  let total = 0n;
  for (const i of path) {
    const I = hmac(sha512, c, concatBytes(P.toBytes(true), ser32(i)));
    const t = bytesToNumberBE(I.subarray(0, 32));
    if (t >= Fn.ORDER) throw new ProtocolError("bad-input", `derivation index ${i} yields an invalid tweak`);
    const child = t === 0n ? P : P.add(Point.BASE.multiply(t));
    if (child.is0())
      throw new ProtocolError("bad-input", `derivation index ${i} yields the point at infinity`);
    P = child;
    c = I.slice(32);
    total = Fn.add(total, t);
  }
  const publicKey33 = P.toBytes(true);
  return { publicKey33, xOnly: publicKey33.slice(1), chainCode: c, tweak: total };
}
