/**
 * The contract a signature scheme offers the runtime. The worker drives every scheme through this
 * interface and never touches its maths; each method returns the first protocol step, which the
 * generic {@link Session} then runs.
 * @module
 */
import type { Job, ParallelMap } from "./parallel.js";
import type { PartyId } from "./party.js";
import type { Step } from "./round.js";

/** Inputs common to every protocol run. */
export interface SessionParams {
  /** Unique id of this run, agreed by all participants; bound into every transcript. 32 bytes. */
  readonly sessionId: Uint8Array;
  /** This party's id. */
  readonly self: PartyId;
}

/** Distributed key generation among `parties`, producing shares with threshold `threshold`. */
export interface KeygenParams extends SessionParams {
  readonly parties: readonly PartyId[];
  readonly threshold: number;
  /** Where the run's independent jobs execute (see {@link Scheme.jobs}); default: inline. */
  readonly parallel?: ParallelMap;
}

/** Threshold signing of `message` by exactly the parties in `signers` (t of them or more). */
export interface SignParams<S> extends SessionParams {
  readonly share: S;
  readonly signers: readonly PartyId[];
  /** The message: for ECDSA a 32-byte digest, for Schnorr schemes the message itself. */
  readonly message: Uint8Array;
  /** Optional BIP32 non-hardened derivation path (child indices < 2^31). */
  readonly path?: readonly number[];
}

/** Proactive refresh by all parties of the share: same public key, fresh shares. */
export interface RefreshParams<S> extends SessionParams {
  readonly share: S;
  /** Where the run's independent jobs execute (see {@link Scheme.jobs}); default: inline. */
  readonly parallel?: ParallelMap;
}

/** What anybody may know about a share (no secrets). */
export interface ShareInfo {
  /** Scheme-specific public key encoding (Ed25519: 32 bytes; BIP340: 32-byte x-only; ECDSA: 33-byte compressed). */
  readonly publicKey: Uint8Array;
  /** BIP32 chain code when the scheme supports derivation. */
  readonly chainCode?: Uint8Array;
  /**
   * The 33-byte compressed point BIP32 derivation starts from (with its real y parity), when the
   * scheme supports derivation. For ECDSA it equals `publicKey`; for BIP340 `publicKey` is x-only.
   */
  readonly derivationKey?: Uint8Array;
  readonly threshold: number;
  readonly parties: readonly PartyId[];
  readonly self: PartyId;
}

/** A finished signature, already verified by the protocol before it is returned. */
export interface SignatureOutput {
  /** Scheme encoding: Ed25519 64 bytes, BIP340 64 bytes, ECDSA 64-byte r||s (low s). */
  readonly signature: Uint8Array;
  /** The key the signature verifies under (the derived child key when a path was given). */
  readonly publicKey: Uint8Array;
  /** ECDSA only: recovery id 0..3. */
  readonly recoveryId?: number;
  /** ECDSA only: DER encoding. */
  readonly der?: Uint8Array;
}

/** A threshold signature scheme, pure and transport-free. `S` is the party's share type. */
export interface Scheme<S> {
  /** Stable name used in the API: `ed25519`, `bip340`, `ecdsa-secp256k1`. */
  readonly name: string;
  /** Highest round number any of its protocols uses. */
  readonly maxRounds: number;
  keygen(params: KeygenParams): Step<S>;
  sign(params: SignParams<S>): Step<SignatureOutput>;
  refresh(params: RefreshParams<S>): Step<S>;
  /** Serialises a share for encrypted storage. */
  encodeShare(share: S): Uint8Array;
  /** Parses a stored share, validating every field. */
  decodeShare(bytes: Uint8Array): S;
  /** Public facts about a share. */
  info(share: S): ShareInfo;
  /** Throws a `bad-input` ProtocolError when `message` (or `path`) is not acceptable to this scheme. */
  checkSignInput(message: Uint8Array, path?: readonly number[]): void;
  /** The jobs its rounds hand to a {@link ParallelMap}, for helper threads to look up by name. */
  readonly jobs?: readonly Job<never, unknown>[];
}
