/**
 * Signing round 1 (RFC 9591 §5.1): each signer draws fresh hiding and binding nonces, hedged with
 * its share and with randomness keyed by the session id, and broadcasts their commitments
 * `hiding || binding`. Once every signer's commitments arrived it computes its signature share
 * (§5.2) and broadcasts it with the hash of the signing package it used. With a BIP32 path (bip340)
 * every signer signs with the child's tweaked key share (see `derive.ts`); with a Taproot option it
 * then signs for the BIP341 output key of that (child) key (see `taproot.ts`).
 * @module
 */
import {
  assertPartySet,
  frame,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type SignatureOutput,
  type SignParams,
  type Step,
  transcriptHash,
} from "@custody/core";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes } from "@noble/hashes/utils.js";
import type { Ciphersuite } from "../ciphersuite.js";
import { FrostShare } from "../share.js";
import { assertSessionId, broadcast, others, parsePayload, readPoint } from "../wire.js";
import { deriveSigningShare } from "./derive.js";
import {
  commitNonces,
  type NonceCommitment,
  prepareSigning,
  type SigningNonces,
  signWithPackage,
} from "./primitives.js";
import { SignRound2 } from "./round2.js";
import { assertTaprootOption, type TaprootOption, tweakSigningShare } from "./taproot.js";

/** Signing inputs of the FROST schemes: core's, plus the BIP341 Taproot option (bip340 only). */
export interface FrostSignParams extends SignParams<FrostShare> {
  /** Sign for the Taproot output key of the (derived) key, committing to this script tree root. */
  readonly taproot?: TaprootOption | undefined;
}

/** Validated inputs of one signing run. */
export interface SignContext {
  readonly suite: Ciphersuite;
  readonly sessionId: Uint8Array;
  /**
   * The key share signing: the stored share, or its derived child along `path`, tweaked for the
   * Taproot output key when `taproot` is set.
   */
  readonly share: FrostShare;
  /** The BIP32 non-hardened derivation path (empty: the root key). */
  readonly path: readonly number[];
  /** The BIP341 Taproot option (undefined: the untweaked key). */
  readonly taproot: TaprootOption | undefined;
  /** The signer set, sorted. */
  readonly signers: readonly PartyId[];
  readonly message: Uint8Array;
}

/**
 * Hash of everything a signature share commits to beyond RFC 9591's binding factors: scheme,
 * session, key epoch (transcript), signing key, derivation path and Taproot option (absent, BIP86 or
 * merkle root: 0, 1 or 33 bytes), message, signer set and all nonce commitments. Signers echo it
 * in round 2, so a split view of round 1 aborts instead of producing blame for honest parties.
 */
function signingPackageHash(ctx: SignContext, commitments: readonly NonceCommitment[]): Uint8Array {
  return transcriptHash("custody/frost/sign/v1", [
    ctx.suite.name,
    ctx.sessionId,
    ctx.share.transcript,
    ctx.share.groupKey,
    Uint8Array.from(ctx.path.flatMap((i) => [i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff])),
    ctx.taproot === undefined
      ? new Uint8Array()
      : concatBytes(Uint8Array.of(1), ctx.taproot.merkleRoot ?? new Uint8Array()),
    ctx.message,
    Uint8Array.from(ctx.signers),
    ...commitments.flatMap((c) => [c.party, c.hiding, c.binding]),
  ]);
}

class SignRound1 implements Round<SignatureOutput> {
  readonly number = 1;
  readonly expects;
  private readonly commitments = new Map<PartyId, NonceCommitment>();

  constructor(
    private readonly ctx: SignContext,
    private readonly nonces: SigningNonces,
    own: NonceCommitment,
  ) {
    this.expects = { from: others(ctx.signers, ctx.share.self), broadcast: true, p2p: false };
    this.commitments.set(own.party, own);
  }

  receive(msg: ProtocolMessage): void {
    const { suite } = this.ctx;
    const commitment = parsePayload(msg, "sign round 1", (r): NonceCommitment => {
      // readPoint decodes strictly (canonical encodings only), so the bytes are the elements' encodings.
      const hiding = readPoint(suite, r);
      const binding = readPoint(suite, r);
      return {
        party: msg.from,
        hiding: hiding.toBytes(),
        binding: binding.toBytes(),
        elements: [hiding, binding],
      };
    });
    this.commitments.set(msg.from, commitment);
  }

  finalize(): Step<SignatureOutput> {
    const { suite, share, signers, message } = this.ctx;
    const list = signers.map((p) => this.commitments.get(p)!);
    const hash = signingPackageHash(this.ctx, list);
    const pkg = prepareSigning(suite, share, list, message);
    const z = signWithPackage(pkg, share, this.nonces);
    return next(new SignRound2(this.ctx, pkg, hash, z), [broadcast(2, share.self, concatBytes(hash, z))]);
  }
}

/** Fresh randomness for nonce generation, keyed by the session id and the signer. */
function hedgedRng(sessionId: Uint8Array, self: PartyId) {
  const info = frame("custody/frost/sign/nonce/v1", [self]);
  return (length = 32) => hkdf(sha256, randomBytes(32), sessionId, info, length);
}

/**
 * Starts threshold signing of `params.message` by exactly `params.signers`.
 * @param checkInput the scheme's message/path validation
 * @throws ProtocolError (`bad-input`) on an invalid share, signer set, session id or message.
 */
export function startSign(
  suite: Ciphersuite,
  params: FrostSignParams,
  checkInput: (message: Uint8Array, path?: readonly number[]) => void,
): Step<SignatureOutput> {
  assertSessionId(params.sessionId);
  checkInput(params.message, params.path);
  const root = params.share;
  if (!(root instanceof FrostShare) || root.scheme !== suite.name)
    throw new ProtocolError("bad-input", `not a ${suite.name} share`);
  const path = [...(params.path ?? [])];
  const { taproot } = params;
  if (taproot !== undefined) assertTaprootOption(taproot);
  const child = deriveSigningShare(suite, root, path);
  const share = taproot === undefined ? child : tweakSigningShare(suite, child, taproot);
  if (params.self !== share.self)
    throw new ProtocolError("bad-input", `share belongs to party ${share.self}, not ${params.self}`);
  const signers = assertPartySet(params.signers, share.threshold, "signers");
  const outsider = signers.find((p) => !share.parties.includes(p));
  if (outsider !== undefined)
    throw new ProtocolError("bad-input", `signer ${outsider} holds no share of this key`);
  if (!signers.includes(share.self)) throw new ProtocolError("bad-input", "self is not one of the signers");
  const ctx: SignContext = {
    suite,
    sessionId: params.sessionId.slice(),
    share,
    path,
    taproot: taproot === undefined ? undefined : { merkleRoot: taproot.merkleRoot?.slice() },
    signers,
    message: params.message.slice(),
  };
  const { nonces, commitment } = commitNonces(suite, share, hedgedRng(ctx.sessionId, share.self));
  return next(new SignRound1(ctx, nonces, commitment), [
    broadcast(1, share.self, concatBytes(commitment.hiding, commitment.binding)),
  ]);
}
