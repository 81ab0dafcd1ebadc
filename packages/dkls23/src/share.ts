/**
 * The party's key share (spec dkls23.md §4.7, §6.2 "Persisted per party") and its strict,
 * versioned storage encoding. The share never prints its secrets: `toJSON` and Node's
 * `util.inspect` show only public facts.
 * @module
 */
import { assertPartySet, DecodeError, decodeWith, ProtocolError, Writer } from "@custody/core";
import { bytesToHex } from "@noble/hashes/utils.js";
import { bytesToBig, mulG, N, Point, pointToBytes, scalarToBytes } from "./group.js";
import { KAPPA } from "./params.js";

/** Secret pairwise state with one counterparty j. */
export interface PairState {
  /** Zero-share seed shared with j. */
  readonly seed: Uint8Array;
  /** As OTE sender (Alice) toward j: Δ (κ bits). */
  readonly delta: Uint8Array;
  /** As OTE sender toward j: `k^{Δ_i}_i` (κ × 32 bytes). */
  readonly kDelta: Uint8Array;
  /** As OTE receiver (Bob) from j: `k^0_i` (κ × 32 bytes). */
  readonly k0: Uint8Array;
  /** As OTE receiver from j: `k^1_i` (κ × 32 bytes). */
  readonly k1: Uint8Array;
}

/** Fields of an {@link EcdsaShare}. */
export interface EcdsaShareFields {
  readonly threshold: number;
  readonly parties: readonly number[];
  readonly self: number;
  /** Shamir share `x_i = f(i)`. */
  readonly secret: bigint;
  /** Group key, 33-byte compressed. */
  readonly publicKey: Uint8Array;
  /** BIP32 chain code (32 bytes). */
  readonly chainCode: Uint8Array;
  /** `X_k = x_k·G` for every party k, 33-byte compressed. */
  readonly publicShares: ReadonlyMap<number, Uint8Array>;
  /** Pairwise state with every other party. */
  readonly pairs: ReadonlyMap<number, PairState>;
  /** Confirmation digest of the DKG or refresh that produced the share; the key id of this epoch. */
  readonly transcript: Uint8Array;
  /** 0 after DKG, incremented by each refresh. */
  readonly epoch: number;
}

/** A DKLs23 key share. Immutable; treat as secret. */
export class EcdsaShare implements EcdsaShareFields {
  readonly threshold: number;
  readonly parties: readonly number[];
  readonly self: number;
  readonly secret: bigint;
  readonly publicKey: Uint8Array;
  readonly chainCode: Uint8Array;
  readonly publicShares: ReadonlyMap<number, Uint8Array>;
  readonly pairs: ReadonlyMap<number, PairState>;
  readonly transcript: Uint8Array;
  readonly epoch: number;

  constructor(f: EcdsaShareFields) {
    this.threshold = f.threshold;
    this.parties = Object.freeze([...f.parties]);
    this.self = f.self;
    this.secret = f.secret;
    this.publicKey = f.publicKey;
    this.chainCode = f.chainCode;
    this.publicShares = f.publicShares;
    this.pairs = f.pairs;
    this.transcript = f.transcript;
    this.epoch = f.epoch;
    Object.freeze(this);
  }

  /** Public facts only. */
  toJSON(): Record<string, unknown> {
    return {
      scheme: "ecdsa-secp256k1",
      threshold: this.threshold,
      parties: this.parties,
      self: this.self,
      publicKey: bytesToHex(this.publicKey),
      epoch: this.epoch,
      secret: "<redacted>",
    };
  }

  /** Node's `util.inspect` hook: same redacted view. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `EcdsaShare ${JSON.stringify(this.toJSON())}`;
  }
}

const MAGIC = "dkls23-share";
const VERSION = 1;

/** Serialises a share for encrypted storage (format version 1). */
export function encodeShare(s: EcdsaShare): Uint8Array {
  const w = new Writer().bytes(new TextEncoder().encode(MAGIC)).u8(VERSION);
  w.u8(s.threshold)
    .u8(s.self)
    .list(s.parties, (w, p) => w.u8(p));
  w.fixed(scalarToBytes(s.secret)).fixed(s.publicKey).fixed(s.chainCode).fixed(s.transcript).u32(s.epoch);
  for (const p of s.parties) w.fixed(s.publicShares.get(p)!);
  for (const p of s.parties) {
    if (p === s.self) continue;
    const st = s.pairs.get(p)!;
    w.fixed(st.seed).fixed(st.delta).fixed(st.kDelta).fixed(st.k0).fixed(st.k1);
  }
  return w.finish();
}

function fail(msg: string): never {
  throw new ProtocolError("bad-input", `invalid share encoding: ${msg}`);
}

/**
 * Parses a stored share and validates every field: format version, party set, canonical
 * non-zero secret, valid points, `x_i·G == X_i`, and that `t` public shares interpolate to pk
 * is left to the protocol (it holds by construction of DKG/refresh).
 * @throws ProtocolError `bad-input`.
 */
export function decodeShare(bytes: Uint8Array): EcdsaShare {
  try {
    return decodeWith(bytes, (r) => {
      if (new TextDecoder().decode(r.bytes()) !== MAGIC) fail("not a DKLs23 share");
      if (r.u8() !== VERSION) fail("unsupported version");
      const threshold = r.u8();
      const self = r.u8();
      const parties = assertPartySet(
        r.list((r) => r.u8(), 255),
        2,
        "share parties",
      );
      if (threshold < 2 || threshold > parties.length) fail("threshold");
      if (!parties.includes(self)) fail("self not among parties");
      const secret = bytesToBig(r.fixed(32));
      if (secret === 0n || secret >= N) fail("secret share out of range");
      const publicKey = r.fixed(33);
      const chainCode = r.fixed(32);
      const transcript = r.fixed(32);
      const epoch = r.u32();
      Point.fromBytes(publicKey);
      const publicShares = new Map<number, Uint8Array>();
      for (const p of parties) {
        const b = r.fixed(33);
        Point.fromBytes(b);
        publicShares.set(p, b);
      }
      if (bytesToHex(pointToBytes(mulG(secret))) !== bytesToHex(publicShares.get(self)!))
        fail("secret does not match public share");
      const pairs = new Map<number, PairState>();
      for (const p of parties) {
        if (p === self) continue;
        pairs.set(p, {
          seed: r.fixed(32),
          delta: r.fixed(KAPPA / 8),
          kDelta: r.fixed(KAPPA * 32),
          k0: r.fixed(KAPPA * 32),
          k1: r.fixed(KAPPA * 32),
        });
      }
      return new EcdsaShare({
        threshold,
        parties,
        self,
        secret,
        publicKey,
        chainCode,
        publicShares,
        pairs,
        transcript,
        epoch,
      });
    });
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    if (e instanceof DecodeError || e instanceof Error) fail(e.message);
    throw e;
  }
}
