/**
 * BIP341 Taproot output keys for `bip340` signing. The internal key `P` is the (derived) group key
 * lifted to even y; the tweak is `t = int(tagged_hash("TapTweak", x(P) || merkleRoot))` (no merkle
 * root: BIP86, key path only), rejected when `t ≥ n`; the output key is `Q = P + t·G`.
 *
 * Threshold signing for `Q` shifts every share consistently, as BIP32 derivation does (see
 * `derive.ts`): when the group key has odd y every party first negates its signing share and every
 * verifying share (so they interpolate the secret of the even-y `P`), then adds `t` to its signing
 * share and `t·G` to every verifying share. The shares then interpolate `±x + t`, the secret of `Q`;
 * the BIP340 even-y rule for `Q` itself is applied at signing time as for any key, so the signature
 * verifies under the x-only `Q`.
 * @module
 */
import { ProtocolError } from "@custody/core";
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToNumberBE, concatBytes, equalBytes } from "@noble/curves/utils.js";
import type { Ciphersuite } from "../ciphersuite.js";
import { attachElements, FrostShare, keyElements } from "../share.js";

/** The BIP341 commitment a signing applies to its key. */
export interface TaprootOption {
  /** 32-byte root of the script tree; omitted for BIP86 (key path only, no script tree). */
  readonly merkleRoot?: Uint8Array | undefined;
}

/** A Taproot output key and how it follows from its internal key. */
export interface TaprootKey {
  /** x-only internal key `x(P)`, 32 bytes. */
  readonly internalKey: Uint8Array;
  /** The TapTweak `t` (a scalar below n). */
  readonly tweak: bigint;
  /** x-only output key `x(Q)`, 32 bytes. */
  readonly outputKey: Uint8Array;
  /** 1 when `Q` has odd y (the parity bit of a script-path control block). */
  readonly parity: 0 | 1;
}

const { Point } = secp256k1;
const N = Point.Fn.ORDER;

/**
 * Throws a `bad-input` ProtocolError unless `option` is a {@link TaprootOption}: an object whose
 * `merkleRoot`, when present, is 32 bytes.
 */
export function assertTaprootOption(option: unknown): asserts option is TaprootOption {
  if (option === null || typeof option !== "object" || Array.isArray(option))
    throw new ProtocolError("bad-input", "taproot option must be an object");
  const root = (option as { merkleRoot?: unknown }).merkleRoot;
  if (root !== undefined && (!(root instanceof Uint8Array) || root.length !== 32))
    throw new ProtocolError("bad-input", "taproot merkle root must be 32 bytes");
}

/** The TapTweak scalar of x-only key `x` and optional merkle root, or a ProtocolError when `t ≥ n`. */
function tapTweak(x: Uint8Array, merkleRoot: Uint8Array | undefined): bigint {
  const t = bytesToNumberBE(
    schnorr.utils.taggedHash("TapTweak", merkleRoot === undefined ? x : concatBytes(x, merkleRoot)),
  );
  if (t >= N) throw new ProtocolError("bad-input", "the TapTweak of this key is not a valid scalar");
  return t;
}

/**
 * The BIP341 output key of x-only internal key `internalKey` committing to `merkleRoot` (none:
 * BIP86).
 * @throws ProtocolError (`bad-input`) when `internalKey` is not the x coordinate of a curve point,
 *   the merkle root is not 32 bytes, or the tweak or output key is invalid
 */
export function taprootOutputKey(internalKey: Uint8Array, merkleRoot?: Uint8Array): TaprootKey {
  assertTaprootOption({ merkleRoot });
  if (!(internalKey instanceof Uint8Array) || internalKey.length !== 32)
    throw new ProtocolError("bad-input", "taproot internal key must be 32 bytes (x-only)");
  let P: InstanceType<typeof Point>;
  try {
    P = schnorr.utils.lift_x(bytesToNumberBE(internalKey));
  } catch (e) {
    throw new ProtocolError("bad-input", "taproot internal key is not on the curve", [], { cause: e });
  }
  const tweak = tapTweak(internalKey, merkleRoot);
  const Q = tweak === 0n ? P : P.add(Point.BASE.multiply(tweak));
  if (Q.is0()) throw new ProtocolError("bad-input", "the taproot output key is the point at infinity");
  const q = Q.toBytes(true);
  return { internalKey: internalKey.slice(), tweak, outputKey: q.slice(1), parity: q[0] === 3 ? 1 : 0 };
}

/**
 * The key share signing for the Taproot output key of `share`'s group key (kept in memory only,
 * never stored; it keeps the share's transcript and chain code). See the module doc.
 * @throws ProtocolError (`bad-input`) for a scheme without Taproot (ed25519), a malformed option, an
 *   invalid tweak or a degenerate tweaked share
 */
export function tweakSigningShare(suite: Ciphersuite, share: FrostShare, option: TaprootOption): FrostShare {
  if (suite.name !== "bip340" || suite.hashes.hasEvenY === undefined)
    throw new ProtocolError("bad-input", `${suite.name} keys do not support taproot`);
  assertTaprootOption(option);
  const { Fn } = suite;
  const key = keyElements(suite, share);
  const negate = !suite.hashes.hasEvenY(key.groupKey);
  const even = (p: (typeof key)["groupKey"]) => (negate ? p.negate() : p);
  const internal = even(key.groupKey);
  const output = taprootOutputKey(suite.publicKey(internal), option.merkleRoot);
  const shift = suite.mulBase(output.tweak);
  const groupKey = internal.add(shift);
  const verifying = share.parties.map((p) => [p, even(key.verifying.get(p)!).add(shift)] as const);
  const secret = Fn.add(negate ? Fn.neg(share.secretShare) : share.secretShare, output.tweak);
  if (groupKey.is0() || secret === 0n || verifying.some(([, v]) => v.is0()))
    throw new ProtocolError("bad-input", "the taproot tweak yields a degenerate key share");
  if (!equalBytes(suite.publicKey(groupKey), output.outputKey))
    throw new ProtocolError("internal", "tweaked group key differs from the taproot output key");
  const tweaked = new FrostShare(
    {
      scheme: share.scheme,
      threshold: share.threshold,
      parties: share.parties,
      self: share.self,
      groupKey: groupKey.toBytes(),
      verifyingShares: new Map(verifying.map(([p, v]) => [p, v.toBytes()])),
      transcript: share.transcript,
      chainCode: share.chainCode,
    },
    secret,
  );
  return attachElements(tweaked, { groupKey, verifying: new Map(verifying) });
}
