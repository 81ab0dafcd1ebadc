/**
 * DKG round 1 (dealerless Pedersen/FROST key generation, RFC 9591 §5 references and the FROST
 * paper's KeyGen): each party samples a random polynomial of degree t-1, broadcasts the Feldman
 * commitments to its coefficients with a proof of knowledge of the constant term, and, once it
 * holds every other party's valid broadcast, sends each party its share `f_i(j)` point to point.
 *
 * For `bip340` the DKG also produces a joint BIP32 chain code by commit-then-reveal: each party
 * draws a random 32-byte contribution `ρ_i` and appends `H(session, sender, ρ_i)` to its round-1
 * broadcast; it reveals `ρ_i` in round 2, appended to each point-to-point share. Every receiver
 * checks the reveal against the broadcast commitment (blaming the sender on mismatch), so a
 * revealed value is the same for everybody, was fixed before anyone saw another contribution, and
 * cannot be copied from another party (the commitment binds the sender). The chain code is the
 * hash of all contributions in party order ({@link jointChainCode}) and is bound into the
 * confirmation transcript.
 * @module
 */
import {
  assertPartySet,
  assertThreshold,
  check,
  type KeygenParams,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type Step,
  transcriptHash,
  Writer,
} from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import type { Ciphersuite, GroupElement } from "../ciphersuite.js";
import type { FrostShare } from "../share.js";
import { evalPolynomial, randomPolynomial } from "../vss.js";
import { assertSessionId, broadcast, others, parsePayload, readPoint, readScalar } from "../wire.js";
import { type Pok, type PokContext, provePok, verifyPok } from "./pok.js";
import { KeygenRound2 } from "./round2.js";

/** Validated inputs of one DKG run. */
export interface KeygenContext extends PokContext {
  readonly self: PartyId;
}

/** Byte length of a chain-code contribution and of its commitment. */
export const CHAIN_CONTRIBUTION_LENGTH = 32;

/**
 * One party's round-1 broadcast, decoded. `payload` is its (canonical) encoding:
 * `u32 t | t × element | element R | scalar z`, then for bip340 the 32-byte chain-code commitment.
 */
export interface KeygenPackage {
  readonly commitments: readonly GroupElement[];
  readonly pok: Pok;
  /** bip340 only: commitment to the sender's chain-code contribution. */
  readonly chainCommitment: Uint8Array | undefined;
  readonly payload: Uint8Array;
}

/** Commitment to party `sender`'s chain-code contribution, bound to the session. */
export function commitChainContribution(
  ctx: KeygenContext,
  sender: PartyId,
  contribution: Uint8Array,
): Uint8Array {
  return transcriptHash("custody/frost/dkg/chaincode/commit/v1", [
    ctx.suite.name,
    ctx.sessionId,
    sender,
    contribution,
  ]);
}

/** The joint chain code: a domain-separated hash of every contribution, in party order. */
export function jointChainCode(
  ctx: KeygenContext,
  contributions: ReadonlyMap<PartyId, Uint8Array>,
): Uint8Array {
  return transcriptHash("custody/frost/dkg/chaincode/v1", [
    ctx.suite.name,
    ctx.sessionId,
    Uint8Array.from(ctx.parties),
    ...ctx.parties.flatMap((p) => [p, contributions.get(p)!]),
  ]);
}

function encodePackage(
  suite: Ciphersuite,
  commitments: readonly GroupElement[],
  pok: Pok,
  chainCommitment: Uint8Array | undefined,
): Uint8Array {
  const w = new Writer()
    .list(commitments, (w, c) => w.fixed(c.toBytes()))
    .fixed(pok.R.toBytes())
    .fixed(suite.encodeScalar(pok.z));
  if (chainCommitment) w.fixed(chainCommitment);
  return w.finish();
}

class KeygenRound1 implements Round<FrostShare> {
  readonly number = 1;
  readonly expects;
  private readonly received = new Map<PartyId, KeygenPackage>();

  constructor(
    private readonly ctx: KeygenContext,
    private readonly coefficients: bigint[],
    private readonly contribution: Uint8Array | undefined,
    own: KeygenPackage,
  ) {
    this.expects = { from: others(ctx.parties, ctx.self), broadcast: true, p2p: false };
    this.received.set(ctx.self, own);
  }

  receive(msg: ProtocolMessage): void {
    const { suite, threshold } = this.ctx;
    const from = msg.from;
    const pkg = parsePayload(msg, "keygen round 1", (r) => {
      const commitments = r.list((r) => readPoint(suite, r), 255);
      check(
        commitments.length === threshold,
        from,
        `expected ${threshold} commitments, got ${commitments.length}`,
      );
      const pok = { R: readPoint(suite, r), z: readScalar(suite, r) };
      const chainCommitment = suite.derivation ? r.fixed(CHAIN_CONTRIBUTION_LENGTH) : undefined;
      return { commitments, pok, chainCommitment, payload: msg.payload.slice() };
    });
    check(verifyPok(this.ctx, from, pkg.commitments, pkg.pok), from, "invalid proof of knowledge");
    this.received.set(from, pkg);
  }

  finalize(): Step<FrostShare> {
    const { suite, self, parties } = this.ctx;
    const out: ProtocolMessage[] = others(parties, self).map((to) => {
      const w = new Writer().fixed(suite.encodeScalar(evalPolynomial(suite, this.coefficients, to)));
      if (this.contribution) w.fixed(this.contribution);
      return { round: 2, from: self, to, payload: w.finish() };
    });
    return next(new KeygenRound2(this.ctx, this.coefficients, this.contribution, this.received), out);
  }
}

/**
 * Starts a DKG for `params.self`.
 * @throws ProtocolError (`bad-input`) on an invalid party set, threshold or session id.
 */
export function startKeygen(suite: Ciphersuite, params: KeygenParams): Step<FrostShare> {
  assertSessionId(params.sessionId);
  const parties = assertPartySet(params.parties, 2);
  assertThreshold(params.threshold, parties.length);
  if (!parties.includes(params.self))
    throw new ProtocolError("bad-input", `self ${params.self} is not one of the parties`);
  const ctx: KeygenContext = {
    suite,
    sessionId: params.sessionId.slice(),
    threshold: params.threshold,
    parties,
    self: params.self,
  };
  const { coefficients, commitments } = randomPolynomial(suite, ctx.threshold, suite.randomScalar());
  const pok = provePok(ctx, ctx.self, coefficients[0]!, commitments);
  const contribution = suite.derivation ? randomBytes(CHAIN_CONTRIBUTION_LENGTH) : undefined;
  const chainCommitment = contribution && commitChainContribution(ctx, ctx.self, contribution);
  const payload = encodePackage(suite, commitments, pok, chainCommitment);
  return next(
    new KeygenRound1(ctx, coefficients, contribution, { commitments, pok, chainCommitment, payload }),
    [broadcast(1, ctx.self, payload)],
  );
}
