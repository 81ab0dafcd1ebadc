/**
 * Thin per-curve configuration. Everything else in the package is written once against the
 * {@link Ciphersuite} interface; the two suites below only say which noble group, RFC 9591
 * ciphersuite, point encoding and final verifier to use.
 *
 * - `ed25519`: FROST(Ed25519, SHA-512), RFC 9591 §6.1. Signatures are RFC 8032 Ed25519.
 * - `bip340`: FROST over secp256k1 with BIP340 even-y handling (noble's `schnorr_FROST`,
 *   "FROST-secp256k1-SHA256-TR-v1"). Signatures are BIP340 Schnorr under the x-only key.
 *   The x-only key is the DKG key, its BIP32 non-hardened child when signing along a path, or
 *   the BIP341 output key of either when signing with the Taproot option (`sign/taproot.ts`).
 * @module
 */
import { frame, type HashPart, verifyEd25519 } from "@custody/core";
import { mulAddUnsafe } from "@noble/curves/abstract/curve.js";
import type { FROST } from "@noble/curves/abstract/frost.js";
import { getMinHashLength, type IField, mapHashToField } from "@noble/curves/abstract/modular.js";
import { ed25519, ed25519_FROST } from "@noble/curves/ed25519.js";
import { schnorr, schnorr_FROST, secp256k1, secp256k1_hasher } from "@noble/curves/secp256k1.js";
import {
  bytesToNumberBE,
  bytesToNumberLE,
  concatBytes,
  equalBytes,
  randomBytes,
} from "@noble/curves/utils.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";

/** A group element: the structural subset of noble's point classes the protocol uses. */
export interface GroupElement {
  /** Group addition. */
  add(other: GroupElement): GroupElement;
  /** Constant-time scalar multiplication; the scalar must be in 1..n-1. */
  multiply(scalar: bigint): GroupElement;
  /** Variable-time scalar multiplication, for public scalars only (0 allowed). */
  multiplyUnsafe(scalar: bigint): GroupElement;
  /** Negation. */
  negate(): GroupElement;
  /** Equality. */
  equals(other: GroupElement): boolean;
  /** True for the identity. */
  is0(): boolean;
  /** Canonical encoding (Ed25519: 32 bytes; secp256k1: 33-byte compressed). */
  toBytes(): Uint8Array;
  /** Throws unless the point is on the curve. */
  assertValidity(): void;
  /** True when the point lies in the prime-order subgroup. */
  isTorsionFree(): boolean;
}

interface GroupConstructor {
  readonly BASE: GroupElement;
  readonly ZERO: GroupElement;
  readonly Fn: IField<bigint>;
  fromBytes(bytes: Uint8Array): GroupElement;
}

/** Names of the two FROST schemes. */
export type SchemeName = "ed25519" | "bip340";

/** Everything that differs between the curves, plus the generic helpers built on it. */
export interface Ciphersuite {
  /** Scheme name as exposed by the API. */
  readonly name: SchemeName;
  /** Scheme id byte used in the share encoding. */
  readonly id: number;
  /**
   * Whether keys carry a BIP32 chain code and sign along non-hardened derivation paths (bip340:
   * yes; ed25519: no, its shares keep no chain code and paths are rejected).
   */
  readonly derivation: boolean;
  /**
   * noble's RFC 9591 ciphersuite. Signing itself runs on {@link FrostHashes} over already
   * validated elements (see `sign/primitives.ts`); the test suite checks it against this one.
   */
  readonly frost: FROST;
  /** The RFC 9591 hash functions and BIP340 adjustments of this ciphersuite. */
  readonly hashes: FrostHashes;
  /** The scalar field (order of the prime-order group). */
  readonly Fn: IField<bigint>;
  /** Generator. */
  readonly base: GroupElement;
  /** Identity element. */
  readonly identity: GroupElement;
  /** Byte length of an encoded element (Ed25519: 32; secp256k1 compressed: 33). */
  readonly pointLength: number;
  /** Byte length of an encoded scalar (32 for both curves). */
  readonly scalarLength: number;
  /**
   * Strict element decoding (RFC 9591 §3.1 DeserializeElement): exact length, canonical encoding,
   * on the curve, not the identity, in the prime-order subgroup. Throws a plain Error otherwise.
   */
  decodePoint(bytes: Uint8Array): GroupElement;
  /** Strict scalar decoding: exact length and canonical (< n). Throws a plain Error otherwise. */
  decodeScalar(bytes: Uint8Array): bigint;
  /** Fixed-length scalar encoding, in the curve's byte order. */
  encodeScalar(s: bigint): Uint8Array;
  /** A uniformly random scalar in 1..n-1 from the system CSPRNG. */
  randomScalar(): bigint;
  /** `s·G`, constant time; the identity for 0. */
  mulBase(s: bigint): GroupElement;
  /** `Σ scalars[i]·points[i]`, variable time: public inputs only (scalars in 0..n-1). */
  msm(points: readonly GroupElement[], scalars: readonly bigint[]): GroupElement;
  /** SHA-512 of the framed domain and parts, reduced to a scalar (bias below 2^-250). */
  hashToScalar(domain: string, parts: readonly HashPart[]): bigint;
  /** The scheme's public key encoding of a group key (Ed25519: 32 bytes; BIP340: x-only 32 bytes). */
  publicKey(groupKey: GroupElement): Uint8Array;
  /**
   * Standard single-key verification (RFC 8032 strict / BIP340) of a final signature (Ed25519:
   * OpenSSL, with noble's strict verdict: `verifyEd25519` of @custody/core).
   */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/**
 * The ciphersuite-specific parts of RFC 9591 signing (§6.1 FROST(Ed25519, SHA-512); for bip340
 * the "FROST-secp256k1-SHA256-TR-v1" suite as implemented by noble's `schnorr_FROST`).
 */
export interface FrostHashes {
  /** H1: binding factor (`rho`). */
  H1(m: Uint8Array): bigint;
  /** H3: nonce derivation (`nonce`). */
  H3(m: Uint8Array): bigint;
  /** H4: message hash (`msg`). */
  H4(m: Uint8Array): Uint8Array;
  /** H5: commitment-list hash (`com`). */
  H5(m: Uint8Array): Uint8Array;
  /** The Schnorr challenge `c` of `(R, PK, msg)` (Ed25519: H2; BIP340: tagged x-only challenge). */
  challenge(R: GroupElement, PK: GroupElement, msg: Uint8Array): bigint;
  /**
   * BIP340 even-y rule: keys and group commitments with odd y are negated (noble's
   * `adjustPublic`/`adjustSecret`/`adjustNonces`). Undefined for Ed25519 (no adjustment).
   */
  hasEvenY?: (p: GroupElement) => boolean;
  /** Final signature encoding of `(R, z)`. */
  encodeSignature(R: GroupElement, z: bigint): Uint8Array;
}

function makeHashes(
  contextString: string,
  hash: (m: Uint8Array) => Uint8Array,
  toScalar: (m: Uint8Array, dst: Uint8Array) => bigint,
  rest: Pick<FrostHashes, "challenge" | "hasEvenY" | "encodeSignature">,
): FrostHashes {
  const prefix = (label: string) => utf8ToBytes(contextString + label);
  const [rho, nonce, msg, com] = ["rho", "nonce", "msg", "com"].map(prefix) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  return Object.freeze({
    H1: (m: Uint8Array) => toScalar(m, rho),
    H3: (m: Uint8Array) => toScalar(m, nonce),
    H4: (m: Uint8Array) => hash(concatBytes(msg, m)),
    H5: (m: Uint8Array) => hash(concatBytes(com, m)),
    ...rest,
  });
}

const edFn = ed25519.Point.Fn;
const k1Fn = secp256k1.Point.Fn;
const evenY = (p: GroupElement) => p.toBytes()[0] === 2;

const ed25519Hashes = makeHashes(
  "FROST-ED25519-SHA512-v1",
  sha512,
  (m, dst) => edFn.create(bytesToNumberLE(sha512(concatBytes(dst, m)))),
  {
    // RFC 9591 §6.1: H2 is the undecorated SHA-512 of RFC 8032.
    challenge: (R, PK, msg) =>
      edFn.create(bytesToNumberLE(sha512(concatBytes(R.toBytes(), PK.toBytes(), msg)))),
    encodeSignature: (R, z) => concatBytes(R.toBytes(), edFn.toBytes(z)),
  },
);

const bip340Hashes = makeHashes(
  "FROST-secp256k1-SHA256-TR-v1",
  sha256,
  (m, dst) => secp256k1_hasher.hashToScalar(m, { DST: dst }),
  {
    challenge: (R, PK, msg) =>
      k1Fn.create(
        bytesToNumberBE(
          schnorr.utils.taggedHash(
            "BIP0340/challenge",
            R.toBytes().subarray(1),
            PK.toBytes().subarray(1),
            msg,
          ),
        ),
      ),
    hasEvenY: evenY,
    encodeSignature: (R, z) => concatBytes(R.toBytes().subarray(1), k1Fn.toBytes(z)),
  },
);

type K1Point = InstanceType<typeof secp256k1.Point>;

/**
 * secp256k1 MSM in pairs through noble's GLV-accelerated `a·P + b·Q` (two half-width scalars per
 * point on one halved doubling chain), which beats the generic interleaved wNAF at FROST sizes.
 */
function secp256k1Msm(points: readonly GroupElement[], scalars: readonly bigint[]): GroupElement {
  if (points.length !== scalars.length)
    throw new Error("arrays of points and scalars must have equal length");
  const ps = points as readonly K1Point[];
  let acc: K1Point = secp256k1.Point.ZERO;
  for (let i = 0; i < ps.length; i += 2) {
    acc =
      i + 1 < ps.length
        ? acc.add(ps[i]!.mulAddUnsafe(scalars[i]!, ps[i + 1]!, scalars[i + 1]!))
        : acc.add(ps[i]!.multiplyUnsafe(scalars[i]!));
  }
  return acc;
}

function makeSuite(cfg: {
  name: SchemeName;
  id: number;
  derivation: boolean;
  frost: FROST;
  hashes: FrostHashes;
  Point: GroupConstructor;
  msm?: Ciphersuite["msm"];
  pointLength: number;
  publicKey: (p: GroupElement) => Uint8Array;
  verify: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;
}): Ciphersuite {
  const { Point } = cfg;
  const Fn = Point.Fn;
  const suite: Ciphersuite = {
    name: cfg.name,
    id: cfg.id,
    derivation: cfg.derivation,
    frost: cfg.frost,
    hashes: cfg.hashes,
    Fn,
    base: Point.BASE,
    identity: Point.ZERO,
    pointLength: cfg.pointLength,
    scalarLength: Fn.BYTES,
    decodePoint(bytes) {
      if (bytes.length !== cfg.pointLength) throw new Error(`element must be ${cfg.pointLength} bytes`);
      const p = Point.fromBytes(bytes);
      p.assertValidity();
      if (p.is0()) throw new Error("element is the identity");
      if (!p.isTorsionFree()) throw new Error("element is not in the prime-order subgroup");
      if (!equalBytes(p.toBytes(), bytes)) throw new Error("element encoding is not canonical");
      return p;
    },
    decodeScalar(bytes) {
      if (bytes.length !== Fn.BYTES) throw new Error(`scalar must be ${Fn.BYTES} bytes`);
      const s = Fn.isLE ? bytesToNumberLE(bytes) : bytesToNumberBE(bytes);
      if (s >= Fn.ORDER) throw new Error("scalar is not canonical");
      return s;
    },
    encodeScalar: (s) => Fn.toBytes(s),
    randomScalar() {
      const bytes = mapHashToField(randomBytes(getMinHashLength(Fn.ORDER)), Fn.ORDER, Fn.isLE);
      return Fn.fromBytes(bytes);
    },
    mulBase: (s) => (s === 0n ? Point.ZERO : Point.BASE.multiply(s)),
    msm:
      cfg.msm ??
      ((points, scalars) => mulAddUnsafe(Point as never, points as never[], [...scalars]) as never),
    hashToScalar(domain, parts) {
      const digest = sha512(frame(domain, parts));
      return Fn.create(bytesToNumberBE(digest));
    },
    publicKey: cfg.publicKey,
    verify: cfg.verify,
  };
  return Object.freeze(suite);
}

/** FROST(Ed25519, SHA-512): RFC 8032-compatible signatures, 32-byte public key. */
export const ed25519Suite: Ciphersuite = makeSuite({
  name: "ed25519",
  id: 1,
  derivation: false,
  frost: ed25519_FROST,
  hashes: ed25519Hashes,
  Point: ed25519.Point,
  pointLength: 32,
  publicKey: (p) => p.toBytes(),
  verify: (sig, msg, pk) => verifyEd25519(pk, msg, sig),
});

/** FROST over secp256k1 producing BIP340 signatures under a 32-byte x-only key. */
export const bip340Suite: Ciphersuite = makeSuite({
  name: "bip340",
  id: 2,
  derivation: true,
  frost: schnorr_FROST,
  hashes: bip340Hashes,
  msm: secp256k1Msm,
  Point: secp256k1.Point,
  pointLength: 33,
  publicKey: (p) => p.toBytes().slice(1),
  verify: (sig, msg, pk) => schnorr.verify(sig, msg, pk),
});
