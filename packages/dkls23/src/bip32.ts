/**
 * BIP32 non-hardened public derivation by additive tweak (spec dkls23.md §8):
 * `I = HMAC-SHA512(c_par, ser_P(K_par) ‖ ser32(i))`, `K_child = K_par + I_L·G`, `c_child = I_R`.
 * Along a path the tweak is `τ = Σ I_L`; signers add it to their shares (§5.1). Also the
 * standard extended-public-key serialisation (mainnet `xpub`, base58check).
 * @module
 */
import { ProtocolError } from "@custody/core";
import { hmac } from "@noble/hashes/hmac.js";
import { ripemd160 } from "@noble/hashes/legacy.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { bytesToBig, G, mod, N, Point, pointToBytes } from "./group.js";

/** First hardened index; only indices below it can be derived from public data. */
export const HARDENED = 0x80000000;
/** Mainnet `xpub` version bytes. */
const XPUB_VERSION = 0x0488b21e;

/** Result of deriving along a path. */
export interface DerivedKey {
  /** Child public key, 33-byte compressed. */
  readonly publicKey: Uint8Array;
  /** Child chain code. */
  readonly chainCode: Uint8Array;
  /** Sum of the `I_L` along the path: `K_child = K + tweak·G`. */
  readonly tweak: bigint;
  /** Path length. */
  readonly depth: number;
  /** Last index (0 for the empty path). */
  readonly childNumber: number;
  /** First 4 bytes of HASH160 of the parent key (zeros for the empty path). */
  readonly parentFingerprint: Uint8Array;
}

/**
 * Checks a derivation path: at most 255 integers, each in [0, 2^31).
 * @throws ProtocolError `bad-input`.
 */
export function checkPath(path: readonly number[]): void {
  if (!Array.isArray(path) || path.length > 255)
    throw new ProtocolError("bad-input", "derivation path must be an array of at most 255 indices");
  for (const i of path) {
    if (!Number.isInteger(i) || i < 0 || i >= HARDENED)
      throw new ProtocolError("bad-input", `derivation index ${String(i)} is not a non-hardened index`);
  }
}

/** HASH160 = RIPEMD160(SHA256(x)). */
function hash160(b: Uint8Array): Uint8Array {
  return ripemd160(sha256(b));
}

/**
 * Derives the non-hardened child key along `path` from `(publicKey, chainCode)`.
 * @throws ProtocolError `bad-input` for invalid paths, or in the (probability ~2^-127) case
 *   `I_L ≥ n` or an identity child, where BIP32 says to use the next index.
 */
export function deriveChild(
  publicKey: Uint8Array,
  chainCode: Uint8Array,
  path: readonly number[],
): DerivedKey {
  checkPath(path);
  if (chainCode.length !== 32) throw new ProtocolError("bad-input", "chain code must be 32 bytes");
  let K = Point.fromBytes(publicKey);
  let c = chainCode;
  let tweak = 0n;
  let parentFingerprint = new Uint8Array(4);
  const data = new Uint8Array(37);
  for (const i of path) {
    const ser = pointToBytes(K);
    data.set(ser, 0);
    new DataView(data.buffer).setUint32(33, i);
    const I = hmac(sha512, c, data);
    const il = bytesToBig(I.subarray(0, 32));
    if (il >= N)
      throw new ProtocolError("bad-input", `derivation index ${i} is invalid (I_L ≥ n); use the next`);
    const child = K.add(G.multiplyUnsafe(il));
    if (child.is0())
      throw new ProtocolError("bad-input", `derivation index ${i} gives the identity; use the next`);
    parentFingerprint = hash160(ser).slice(0, 4);
    K = child;
    c = I.slice(32);
    tweak = mod(tweak + il);
  }
  return {
    publicKey: pointToBytes(K),
    chainCode: c,
    tweak,
    depth: path.length,
    childNumber: path.length > 0 ? path[path.length - 1]! : 0,
    parentFingerprint,
  };
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Base58Check encoding (payload ‖ first 4 bytes of SHA256d). */
export function base58check(payload: Uint8Array): string {
  const data = new Uint8Array(payload.length + 4);
  data.set(payload);
  data.set(sha256(sha256(payload)).subarray(0, 4), payload.length);
  let v = bytesToBig(data);
  let out = "";
  while (v > 0n) {
    out = B58[Number(v % 58n)]! + out;
    v /= 58n;
  }
  for (const b of data) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

/**
 * Serialises an extended public key (BIP32, mainnet version bytes).
 * @param meta depth, parent fingerprint and child number; depth 0 (master) by default
 */
export function xpub(
  publicKey: Uint8Array,
  chainCode: Uint8Array,
  meta: { depth: number; parentFingerprint: Uint8Array; childNumber: number } = {
    depth: 0,
    parentFingerprint: new Uint8Array(4),
    childNumber: 0,
  },
): string {
  if (publicKey.length !== 33 || chainCode.length !== 32)
    throw new ProtocolError("bad-input", "xpub needs a 33-byte key and a 32-byte chain code");
  const b = new Uint8Array(78);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, XPUB_VERSION);
  b[4] = meta.depth;
  b.set(meta.parentFingerprint, 5);
  dv.setUint32(9, meta.childNumber);
  b.set(chainCode, 13);
  b.set(publicKey, 45);
  return base58check(b);
}
