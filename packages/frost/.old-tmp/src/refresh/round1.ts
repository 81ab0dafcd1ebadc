/**
 * Refresh round 1 (proactive zero-constant resharing): every holder of the key deals a random
 * polynomial of degree t-1 with constant term 0 and broadcasts its commitments, the first of which
 * must be the identity; then sends each party its share `f_i(j)` point to point.
 *
 * Commitment vector encoding: `u8 flag` for the constant term (0 = identity; 1 = an element
 * follows, always rejected), then `u32(t-1)` and t-1 elements.
 * @module
 */
import {
  check,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type RefreshParams,
  type Round,
  type Step,
  Writer,
} from "@custody/core";
import type { Ciphersuite, GroupElement } from "../ciphersuite.js";
import { FrostShare } from "../share.js";
import { evalPolynomial, randomPolynomial } from "../vss.js";
import { assertSessionId, broadcast, others, parsePayload, readPoint } from "../wire.js";
import { RefreshRound2 } from "./round2.js";

/** Validated inputs of one refresh run. */
export interface RefreshContext {
  readonly suite: Ciphersuite;
  readonly sessionId: Uint8Array;
  readonly share: FrostShare;
}

/** One party's round-1 broadcast, decoded, with its canonical encoding. */
export interface RefreshPackage {
  readonly commitments: readonly GroupElement[];
  readonly payload: Uint8Array;
}

function encodePackage(commitments: readonly GroupElement[]): Uint8Array {
  const [constant, ...rest] = commitments;
  const w = new Writer();
  if (constant!.is0()) w.u8(0);
  else w.u8(1).fixed(constant!.toBytes());
  return w.list(rest, (w, c) => w.fixed(c.toBytes())).finish();
}

class RefreshRound1 implements Round<FrostShare> {
  readonly number = 1;
  readonly expects;
  private readonly received = new Map<PartyId, RefreshPackage>();

  constructor(
    private readonly ctx: RefreshContext,
    private readonly coefficients: bigint[],
    own: RefreshPackage,
  ) {
    const { parties, self } = ctx.share;
    this.expects = { from: others(parties, self), broadcast: true, p2p: false };
    this.received.set(self, own);
  }

  receive(msg: ProtocolMessage): void {
    const { suite, share } = this.ctx;
    const from = msg.from;
    const pkg = parsePayload(msg, "refresh round 1", (r) => {
      const flag = r.u8();
      if (flag !== 0 && flag !== 1) throw new Error(`invalid constant-term flag ${flag}`);
      const constant = flag === 0 ? suite.identity : readPoint(suite, r);
      const rest = r.list((r) => readPoint(suite, r), 255);
      check(
        rest.length === share.threshold - 1,
        from,
        `expected ${share.threshold} commitments, got ${rest.length + 1}`,
      );
      return { commitments: [constant, ...rest], payload: msg.payload.slice() };
    });
    check(pkg.commitments[0]!.is0(), from, "refresh polynomial has a nonzero constant term");
    this.received.set(from, pkg);
  }

  finalize(): Step<FrostShare> {
    const { suite, share } = this.ctx;
    const out: ProtocolMessage[] = others(share.parties, share.self).map((to) => ({
      round: 2,
      from: share.self,
      to,
      payload: suite.encodeScalar(evalPolynomial(suite, this.coefficients, to)),
    }));
    return next(new RefreshRound2(this.ctx, this.coefficients, this.received), out);
  }
}

/**
 * Starts a refresh of `params.share` among all of its parties.
 * @throws ProtocolError (`bad-input`) for a share of another scheme, a wrong self or session id.
 */
export function startRefresh(suite: Ciphersuite, params: RefreshParams<FrostShare>): Step<FrostShare> {
  assertSessionId(params.sessionId);
  const share = params.share;
  if (!(share instanceof FrostShare) || share.scheme !== suite.name)
    throw new ProtocolError("bad-input", `not a ${suite.name} share`);
  if (params.self !== share.self)
    throw new ProtocolError("bad-input", `share belongs to party ${share.self}, not ${params.self}`);
  const ctx: RefreshContext = { suite, sessionId: params.sessionId.slice(), share };
  const { coefficients, commitments } = randomPolynomial(suite, share.threshold, 0n);
  const payload = encodePackage(commitments);
  return next(new RefreshRound1(ctx, coefficients, { commitments, payload }), [
    broadcast(1, share.self, payload),
  ]);
}
