/**
 * DKG round 1 (dealerless Pedersen/FROST key generation, RFC 9591 §5 references and the FROST
 * paper's KeyGen): each party samples a random polynomial of degree t-1, broadcasts the Feldman
 * commitments to its coefficients with a proof of knowledge of the constant term, and, once it
 * holds every other party's valid broadcast, sends each party its share `f_i(j)` point to point.
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
  Writer,
} from "@custody/core";
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

/** One party's round-1 broadcast, decoded. `payload` is its (canonical) encoding. */
export interface KeygenPackage {
  readonly commitments: readonly GroupElement[];
  readonly pok: Pok;
  readonly payload: Uint8Array;
}

function encodePackage(suite: Ciphersuite, commitments: readonly GroupElement[], pok: Pok): Uint8Array {
  return new Writer()
    .list(commitments, (w, c) => w.fixed(c.toBytes()))
    .fixed(pok.R.toBytes())
    .fixed(suite.encodeScalar(pok.z))
    .finish();
}

class KeygenRound1 implements Round<FrostShare> {
  readonly number = 1;
  readonly expects;
  private readonly received = new Map<PartyId, KeygenPackage>();

  constructor(
    private readonly ctx: KeygenContext,
    private readonly coefficients: bigint[],
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
      return { commitments, pok, payload: msg.payload.slice() };
    });
    check(verifyPok(this.ctx, from, pkg.commitments, pkg.pok), from, "invalid proof of knowledge");
    this.received.set(from, pkg);
  }

  finalize(): Step<FrostShare> {
    const { suite, self, parties } = this.ctx;
    const out: ProtocolMessage[] = others(parties, self).map((to) => ({
      round: 2,
      from: self,
      to,
      payload: suite.encodeScalar(evalPolynomial(suite, this.coefficients, to)),
    }));
    return next(new KeygenRound2(this.ctx, this.coefficients, this.received), out);
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
  const payload = encodePackage(suite, commitments, pok);
  return next(new KeygenRound1(ctx, coefficients, { commitments, pok, payload }), [
    broadcast(1, ctx.self, payload),
  ]);
}
