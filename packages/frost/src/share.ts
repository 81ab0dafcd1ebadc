/**
 * A party's FROST key share and its strict, versioned storage encoding.
 *
 * Encoding (version 1), all integers big endian as written by core's `Writer`:
 * ```
 * u8 version (=1) | u8 scheme id (1 ed25519, 2 bip340) | u8 threshold | u8 self
 * | u32 n | n × u8 party id (strictly increasing)
 * | scalar secret share (32 bytes, curve byte order)
 * | element group key | n × element verifying share (same order as the ids)
 * | 32-byte key transcript hash
 * ```
 * Decoding rejects trailing bytes, unknown versions, the other scheme's id, invalid or
 * non-canonical elements and scalars, a zero secret, a secret that does not match its verifying
 * share, and verifying shares that do not lie on one degree t-1 polynomial through the group key.
 * @module
 */
import {
  assertPartySet,
  assertThreshold,
  decodeWith,
  type PartyId,
  ProtocolError,
  type Reader,
  Writer,
} from "@custody/core";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Ciphersuite, GroupElement, SchemeName } from "./ciphersuite.js";
import { interpolateAt } from "./vss.js";

/** Current share encoding version. */
export const SHARE_VERSION = 1;

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Public fields of a {@link FrostShare}. */
export interface FrostShareFields {
  readonly scheme: SchemeName;
  readonly threshold: number;
  /** All share holders, sorted. */
  readonly parties: readonly PartyId[];
  readonly self: PartyId;
  /** Group public key, as an element encoding (Ed25519: 32 bytes; secp256k1: 33-byte compressed). */
  readonly groupKey: Uint8Array;
  /** Every party's verifying share `x_j·G` (element encoding), keyed by party id. */
  readonly verifyingShares: ReadonlyMap<PartyId, Uint8Array>;
  /** Hash of the DKG or refresh transcript that produced this share (its epoch id). */
  readonly transcript: Uint8Array;
}

/**
 * One party's key share. The secret scalar sits in a private field: it is absent from
 * `JSON.stringify`, `Object.keys` and `util.inspect`, which print `secretShare: "<redacted>"`.
 */
export class FrostShare implements FrostShareFields {
  readonly scheme: SchemeName;
  readonly threshold: number;
  readonly parties: readonly PartyId[];
  readonly self: PartyId;
  readonly groupKey: Uint8Array;
  readonly verifyingShares: ReadonlyMap<PartyId, Uint8Array>;
  readonly transcript: Uint8Array;
  readonly #secret: bigint;

  /** Builds a share from already validated fields; use {@link decodeShare} for untrusted bytes. */
  constructor(fields: FrostShareFields, secret: bigint) {
    this.scheme = fields.scheme;
    this.threshold = fields.threshold;
    this.parties = Object.freeze([...fields.parties]);
    this.self = fields.self;
    this.groupKey = fields.groupKey.slice();
    this.verifyingShares = new Map([...fields.verifyingShares].map(([k, v]) => [k, v.slice()]));
    this.transcript = fields.transcript.slice();
    this.#secret = secret;
  }

  /** The secret signing share `x_self` (a scalar). Never log or serialise it outside encodeShare. */
  get secretShare(): bigint {
    return this.#secret;
  }

  /** JSON view with the secret redacted. */
  toJSON(): Record<string, unknown> {
    return {
      scheme: this.scheme,
      threshold: this.threshold,
      parties: [...this.parties],
      self: this.self,
      groupKey: bytesToHex(this.groupKey),
      verifyingShares: Object.fromEntries([...this.verifyingShares].map(([k, v]) => [k, bytesToHex(v)])),
      transcript: bytesToHex(this.transcript),
      secretShare: "<redacted>",
    };
  }

  /** `util.inspect` view: the same redacted object as {@link toJSON}. */
  [inspectSymbol](): Record<string, unknown> {
    return this.toJSON();
  }
}

/** Serialises a share (see the module comment for the layout). */
export function encodeShare(suite: Ciphersuite, share: FrostShare): Uint8Array {
  if (share.scheme !== suite.name)
    throw new ProtocolError("bad-input", `share is for scheme ${share.scheme}, not ${suite.name}`);
  const w = new Writer()
    .u8(SHARE_VERSION)
    .u8(suite.id)
    .u8(share.threshold)
    .u8(share.self)
    .list(share.parties, (w, p) => w.u8(p))
    .fixed(suite.encodeScalar(share.secretShare))
    .fixed(share.groupKey);
  for (const p of share.parties) w.fixed(share.verifyingShares.get(p)!);
  return w.fixed(share.transcript).finish();
}

/**
 * Parses and fully validates a stored share.
 * @throws ProtocolError (`bad-input`) on any malformed or inconsistent field.
 */
export function decodeShare(suite: Ciphersuite, bytes: Uint8Array): FrostShare {
  try {
    return decodeWith(bytes, (r) => readShare(suite, r));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError("bad-input", `invalid ${suite.name} share: ${(e as Error).message}`, [], {
      cause: e,
    });
  }
}

function readShare(suite: Ciphersuite, r: Reader): FrostShare {
  const version = r.u8();
  if (version !== SHARE_VERSION) throw new Error(`unsupported share version ${version}`);
  const id = r.u8();
  if (id !== suite.id) throw new Error(`scheme id ${id} is not ${suite.name}`);
  const threshold = r.u8();
  const self = r.u8();
  const raw = r.list((r) => r.u8(), 255);
  const parties = assertPartySet(raw, 2);
  if (raw.some((p, i) => p !== parties[i])) throw new Error("party ids are not strictly increasing");
  assertThreshold(threshold, parties.length);
  if (!parties.includes(self)) throw new Error("self is not one of the parties");
  const secret = suite.decodeScalar(r.fixed(suite.scalarLength));
  if (secret === 0n) throw new Error("secret share is zero");
  const groupKey = suite.decodePoint(r.fixed(suite.pointLength));
  const verifying = new Map<PartyId, GroupElement>();
  for (const p of parties) verifying.set(p, suite.decodePoint(r.fixed(suite.pointLength)));
  const transcript = r.fixed(32);
  if (!suite.mulBase(secret).equals(verifying.get(self)!))
    throw new Error("secret share does not match its verifying share");
  assertConsistent(suite, threshold, groupKey, verifying);
  return new FrostShare(
    {
      scheme: suite.name,
      threshold,
      parties,
      self,
      groupKey: groupKey.toBytes(),
      verifyingShares: new Map([...verifying].map(([p, v]) => [p, v.toBytes()])),
      transcript,
    },
    secret,
  );
}

/**
 * Checks that the verifying shares are evaluations of one polynomial of degree < t whose value at
 * 0 is the group key: the first t of them must interpolate the key and every other one.
 */
function assertConsistent(
  suite: Ciphersuite,
  t: number,
  groupKey: GroupElement,
  verifying: ReadonlyMap<PartyId, GroupElement>,
): void {
  const entries = [...verifying];
  const basis = entries.slice(0, t);
  if (!interpolateAt(suite, basis, 0).equals(groupKey))
    throw new Error("verifying shares do not interpolate the group key");
  for (const [p, v] of entries.slice(t)) {
    if (!interpolateAt(suite, basis, p).equals(v)) throw new Error(`verifying share of ${p} is inconsistent`);
  }
}
