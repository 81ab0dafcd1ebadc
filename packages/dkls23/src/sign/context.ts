/**
 * Signing setup (spec dkls23.md §5.0–5.1): input checks, BIP32 tweak, the bound session id
 * `sid = H(sign/sid; sessionId, key transcript, epoch, pk, chain code, t, parties, S, digest, path,
 * derived key, derived chain code)`, Lagrange coefficient, zero share and the additive key share
 * `sk_i = λ_i·(x_i + τ) + ζ_i`. The sid is a digest of every session input, so two signers agree on
 * the inputs exactly when they agree on the sid; round 1 compares it per pair ({@link pairBinding}).
 * @module
 */
import { assertPartySet, ProtocolError, type SignParams, Writer } from "@custody/core";
import { deriveChild } from "../bip32.js";
import { ctEqual, mod, mulG, Point, randomScalar } from "../group.js";
import { H } from "../hash.js";
import { NONCE_BYTES } from "../params.js";
import { lagrangeAtZero } from "../poly.js";
import type { EcdsaShare } from "../share.js";
import { zeroShare } from "../zero-share.js";

/** Everything a signer fixes before round 1. */
export interface SignContext {
  readonly share: EcdsaShare;
  readonly sid: Uint8Array;
  readonly self: number;
  readonly signers: readonly number[];
  readonly others: readonly number[];
  /** The 32-byte digest being signed. */
  readonly message: Uint8Array;
  /** The digest as a scalar `z = int(digest) mod n`. */
  readonly z: bigint;
  /** Derived public key pk' (33 bytes) and its point. */
  readonly publicKey: Uint8Array;
  readonly pk: Point;
  /** Additive share and its public point. */
  readonly sk: bigint;
  /** Nonce share r_i and inversion mask φ_i. */
  readonly r: bigint;
  readonly phi: bigint;
}

/**
 * Checks an ECDSA signing request: a 32-byte digest and a non-hardened path.
 * @throws ProtocolError `bad-input`.
 */
export function checkDigest(message: Uint8Array): void {
  if (!(message instanceof Uint8Array) || message.length !== 32)
    throw new ProtocolError("bad-input", "ECDSA signs a 32-byte digest");
}

/** Validates the parameters and computes the signer's context. */
export function makeSignContext(p: SignParams<EcdsaShare>): SignContext {
  const { share } = p;
  checkDigest(p.message);
  if (!(p.sessionId instanceof Uint8Array) || p.sessionId.length !== NONCE_BYTES)
    throw new ProtocolError("bad-input", "sessionId must be 32 bytes");
  if (p.self !== share.self) throw new ProtocolError("bad-input", "self does not match the share");
  const signers = assertPartySet(p.signers, 2, "signers");
  if (signers.length < share.threshold)
    throw new ProtocolError("bad-input", `need at least ${share.threshold} signers, got ${signers.length}`);
  for (const s of signers)
    if (!share.parties.includes(s))
      throw new ProtocolError("bad-input", `signer ${s} holds no share of this key`);
  if (!signers.includes(share.self)) throw new ProtocolError("bad-input", "self is not among the signers");
  const path = p.path ?? [];
  const d = deriveChild(share.publicKey, share.chainCode, path);
  const pathBytes = new Writer();
  for (const i of path) pathBytes.u32(i);
  const sid = H("sign/sid", [
    p.sessionId,
    share.transcript,
    share.epoch,
    share.publicKey,
    share.chainCode,
    share.threshold,
    Uint8Array.from(share.parties),
    Uint8Array.from(signers),
    p.message,
    pathBytes.finish(),
    d.publicKey,
    d.chainCode,
  ]);
  const lambda = lagrangeAtZero(share.self, signers);
  const zeta = zeroShare(
    share.self,
    signers,
    new Map([...share.pairs].map(([j, st]) => [j, st.seed])),
    H("sign/zsid", [sid]),
  );
  const sk = mod(lambda * mod(share.secret + d.tweak) + zeta);
  if (sk === 0n) throw new ProtocolError("internal", "additive key share is zero; retry with a new session");
  let z = 0n;
  for (const b of p.message) z = (z << 8n) | BigInt(b);
  return {
    share,
    sid,
    self: share.self,
    signers,
    others: signers.filter((s) => s !== share.self),
    message: p.message.slice(),
    z: mod(z),
    publicKey: d.publicKey,
    pk: Point.fromBytes(d.publicKey),
    sk,
    r: randomScalar(),
    phi: randomScalar(),
  };
}

/**
 * The session-input binding signer `from` sends to signer `to` in round 1:
 * `H(sign/bind; sid, from, to)`.
 */
export function pairBinding(ctx: SignContext, from: number, to: number): Uint8Array {
  return H("sign/bind", [ctx.sid, from, to]);
}

/**
 * Compares the binding received from signer `from` with our own, before any OT-extension or VOLE
 * check runs on its message. Different session inputs (session id, key or epoch, signer set,
 * digest, derivation path) are a disagreement, not an attack: a `mismatch` abort that blames
 * nobody, where the OTE check would otherwise fail with a `security` abort naming the peer.
 * @throws ProtocolError `mismatch` without culprits.
 */
export function checkPairBinding(ctx: SignContext, from: number, got: Uint8Array): void {
  if (!ctEqual(got, pairBinding(ctx, from, ctx.self)))
    throw new ProtocolError("mismatch", `signer ${from} signs with different session inputs`);
}

/** `pk_i = sk_i·G`. */
export function publicPart(ctx: SignContext): Point {
  return mulG(ctx.sk);
}
