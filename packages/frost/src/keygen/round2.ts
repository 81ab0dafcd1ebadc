/**
 * DKG round 2: each party checks every received share `f_j(self)` against the sender's round-1
 * commitments (`vss_verify`), sums them into its signing share, derives the group key and every
 * party's verifying share from the summed commitments, hashes the whole public transcript, and
 * moves to the confirmation round.
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
import { evalCommitment, evalPolynomial, sumCommitments } from "../vss.js";
import { others, parsePayload, readScalar } from "../wire.js";
import type { KeygenContext, KeygenPackage } from "./round1.js";

/** Collects and verifies the point-to-point shares. */
export class KeygenRound2 implements Round<FrostShare> {
  readonly number = 2;
  readonly expects;
  private readonly shares = new Map<PartyId, bigint>();

  constructor(
    private readonly ctx: KeygenContext,
    private readonly coefficients: bigint[],
    private readonly packages: ReadonlyMap<PartyId, KeygenPackage>,
  ) {
    this.expects = { from: others(ctx.parties, ctx.self), broadcast: false, p2p: true };
  }

  receive(msg: ProtocolMessage): void {
    const { suite, self } = this.ctx;
    const share = parsePayload(msg, "keygen round 2", (r) => readScalar(suite, r));
    const expected = evalCommitment(suite, this.packages.get(msg.from)!.commitments, self);
    check(
      suite.mulBase(share).equals(expected),
      msg.from,
      "secret share does not match the sender's commitments",
    );
    this.shares.set(msg.from, share);
  }

  finalize(): Step<FrostShare> {
    const { suite, self, parties, threshold, sessionId } = this.ctx;
    const { Fn } = suite;
    let secret = evalPolynomial(suite, this.coefficients, self);
    for (const s of this.shares.values()) secret = Fn.add(secret, s);
    this.coefficients.fill(0n);
    this.shares.clear();
    const group = sumCommitments(
      suite,
      parties.map((p) => this.packages.get(p)!.commitments),
    );
    const groupKey = group[0]!;
    const verifying = parties.map((p) => [p, evalCommitment(suite, group, p)] as const);
    if (groupKey.is0() || verifying.some(([, v]) => v.is0()))
      throw new ProtocolError("security", "degenerate group key or verifying share");
    if (secret === 0n || !suite.mulBase(secret).equals(verifying.find(([p]) => p === self)![1]))
      throw new ProtocolError("internal", "signing share does not match its verifying share");
    const transcript = transcriptHash("custody/frost/dkg/v1", [
      suite.name,
      sessionId,
      threshold,
      Uint8Array.from(parties),
      ...parties.flatMap((p) => [p, this.packages.get(p)!.payload]),
      groupKey.toBytes(),
      ...verifying.map(([, v]) => v.toBytes()),
    ]);
    const share = new FrostShare(
      {
        scheme: suite.name,
        threshold,
        parties,
        self,
        groupKey: groupKey.toBytes(),
        verifyingShares: new Map(verifying.map(([p, v]) => [p, v.toBytes()])),
        transcript,
      },
      secret,
    );
    return confirmStep(3, share);
  }
}
