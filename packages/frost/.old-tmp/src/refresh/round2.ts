/**
 * Refresh round 2: each party checks every received share `f_j(self)` against the sender's
 * commitments, adds their sum to its old signing share, updates every verifying share by the
 * summed commitments evaluated at that party, asserts the group key is unchanged, hashes the
 * transcript (including the previous key transcript) and moves to the confirmation round. The
 * chain code (bip340) is carried over unchanged, so derived child keys stay the same.
 * @module
 */
import {
  check,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type Step,
  transcriptHash,
} from "@custody/core";
import { confirmStep } from "../confirm.js";
import { FrostShare } from "../share.js";
import { evalCommitment, evalPolynomial, interpolateAt, sumCommitments } from "../vss.js";
import { others, parsePayload, readScalar } from "../wire.js";
import type { RefreshContext, RefreshPackage } from "./round1.js";

/** Collects and verifies the point-to-point refresh shares. */
export class RefreshRound2 implements Round<FrostShare> {
  readonly number = 2;
  readonly expects;
  private readonly shares = new Map<PartyId, bigint>();

  constructor(
    private readonly ctx: RefreshContext,
    private readonly coefficients: bigint[],
    private readonly packages: ReadonlyMap<PartyId, RefreshPackage>,
  ) {
    this.expects = { from: others(ctx.share.parties, ctx.share.self), broadcast: false, p2p: true };
  }

  receive(msg: ProtocolMessage): void {
    const { suite, share: old } = this.ctx;
    const share = parsePayload(msg, "refresh round 2", (r) => readScalar(suite, r));
    const expected = evalCommitment(suite, this.packages.get(msg.from)!.commitments, old.self);
    check(
      suite.mulBase(share).equals(expected),
      msg.from,
      "refresh share does not match the sender's commitments",
    );
    this.shares.set(msg.from, share);
  }

  finalize(): Step<FrostShare> {
    const { suite, sessionId, share: old } = this.ctx;
    const { Fn } = suite;
    const { parties, self, threshold } = old;
    let secret = Fn.add(old.secretShare, evalPolynomial(suite, this.coefficients, self));
    for (const s of this.shares.values()) secret = Fn.add(secret, s);
    this.coefficients.fill(0n);
    this.shares.clear();
    const delta = sumCommitments(
      suite,
      parties.map((p) => this.packages.get(p)!.commitments),
    );
    const groupKey = suite.decodePoint(old.groupKey);
    const verifying = parties.map((p) => {
      const prev = suite.decodePoint(old.verifyingShares.get(p)!);
      return [p, prev.add(evalCommitment(suite, delta, p))] as const;
    });
    if (verifying.some(([, v]) => v.is0())) throw new ProtocolError("security", "degenerate verifying share");
    if (!delta[0]!.is0() || !interpolateAt(suite, verifying.slice(0, threshold), 0).equals(groupKey))
      throw new ProtocolError("internal", "refresh changed the group key");
    if (secret === 0n || !suite.mulBase(secret).equals(verifying.find(([p]) => p === self)![1]))
      throw new ProtocolError("internal", "signing share does not match its verifying share");
    const transcript = transcriptHash("custody/frost/refresh/v1", [
      suite.name,
      sessionId,
      old.transcript,
      threshold,
      Uint8Array.from(parties),
      ...parties.flatMap((p) => [p, this.packages.get(p)!.payload]),
      old.groupKey,
      ...verifying.map(([, v]) => v.toBytes()),
      old.chainCode ?? new Uint8Array(0),
    ]);
    const share = new FrostShare(
      {
        scheme: suite.name,
        threshold,
        parties,
        self,
        groupKey: old.groupKey,
        verifyingShares: new Map(verifying.map(([p, v]) => [p, v.toBytes()])),
        transcript,
        chainCode: old.chainCode,
      },
      secret,
    );
    return confirmStep(3, share);
  }
}
