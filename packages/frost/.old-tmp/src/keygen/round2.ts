/**
 * DKG round 2: each party checks every received share `f_j(self)` against the sender's round-1
 * commitments (`vss_verify`), sums them into its signing share, derives the group key and every
 * party's verifying share from the summed commitments, hashes the whole public transcript, and
 * moves to the confirmation round. For bip340 each message also reveals the sender's chain-code
 * contribution, checked against its round-1 commitment; the joint chain code enters the
 * transcript and the share.
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
import { equalBytes } from "@noble/curves/utils.js";
import { confirmStep } from "../confirm.js";
import { FrostShare } from "../share.js";
import { evalCommitment, evalPolynomial, sumCommitments } from "../vss.js";
import { others, parsePayload, readScalar } from "../wire.js";
import {
  CHAIN_CONTRIBUTION_LENGTH,
  commitChainContribution,
  jointChainCode,
  type KeygenContext,
  type KeygenPackage,
} from "./round1.js";

/** Collects and verifies the point-to-point shares. */
export class KeygenRound2 implements Round<FrostShare> {
  readonly number = 2;
  readonly expects;
  private readonly shares = new Map<PartyId, bigint>();
  private readonly contributions = new Map<PartyId, Uint8Array>();

  constructor(
    private readonly ctx: KeygenContext,
    private readonly coefficients: bigint[],
    contribution: Uint8Array | undefined,
    private readonly packages: ReadonlyMap<PartyId, KeygenPackage>,
  ) {
    this.expects = { from: others(ctx.parties, ctx.self), broadcast: false, p2p: true };
    if (contribution) this.contributions.set(ctx.self, contribution);
  }

  receive(msg: ProtocolMessage): void {
    const { suite, self } = this.ctx;
    const from = msg.from;
    const { share, contribution } = parsePayload(msg, "keygen round 2", (r) => ({
      share: readScalar(suite, r),
      contribution: suite.derivation ? r.fixed(CHAIN_CONTRIBUTION_LENGTH) : undefined,
    }));
    const pkg = this.packages.get(from)!;
    const expected = evalCommitment(suite, pkg.commitments, self);
    check(
      suite.mulBase(share).equals(expected),
      from,
      "secret share does not match the sender's commitments",
    );
    if (contribution) {
      check(
        equalBytes(commitChainContribution(this.ctx, from, contribution), pkg.chainCommitment!),
        from,
        "chain-code contribution does not match the sender's commitment",
      );
      this.contributions.set(from, contribution);
    }
    this.shares.set(from, share);
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
    const chainCode = suite.derivation ? jointChainCode(this.ctx, this.contributions) : undefined;
    this.contributions.clear();
    const transcript = transcriptHash("custody/frost/dkg/v1", [
      suite.name,
      sessionId,
      threshold,
      Uint8Array.from(parties),
      ...parties.flatMap((p) => [p, this.packages.get(p)!.payload]),
      groupKey.toBytes(),
      ...verifying.map(([, v]) => v.toBytes()),
      chainCode ?? new Uint8Array(0),
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
        chainCode,
      },
      secret,
    );
    return confirmStep(3, share);
  }
}
