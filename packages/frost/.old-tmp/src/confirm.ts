/**
 * The confirmation round closing DKG and refresh: every party broadcasts the hash of the
 * transcript it finished with (session, parties, threshold, every commitment, group key and
 * verifying shares). The new share is returned only once every other party sent the same hash, so
 * no party keeps a key that another party sees differently (split-view / equivocation defence).
 * @module
 */
import {
  done,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type Step,
} from "@custody/core";
import { equalBytes } from "@noble/curves/utils.js";
import type { FrostShare } from "./share.js";
import { broadcast, others, parsePayload } from "./wire.js";

/** Waits for every other party's transcript hash and compares it with ours. */
class ConfirmRound implements Round<FrostShare> {
  readonly expects;

  constructor(
    readonly number: number,
    private readonly share: FrostShare,
  ) {
    this.expects = { from: others(share.parties, share.self), broadcast: true, p2p: false };
  }

  receive(msg: ProtocolMessage): void {
    const hash = parsePayload(msg, "confirmation", (r) => r.fixed(32));
    if (!equalBytes(hash, this.share.transcript))
      throw new ProtocolError("mismatch", "transcript hash differs from ours", [msg.from]);
  }

  finalize(): Step<FrostShare> {
    return done(this.share);
  }
}

/**
 * Broadcasts `share.transcript` in round `number` and waits for the others' hashes.
 * @returns the step whose completion yields `share`
 */
export function confirmStep(number: number, share: FrostShare): Step<FrostShare> {
  const self: PartyId = share.self;
  return next(new ConfirmRound(number, share), [broadcast(number, self, share.transcript)]);
}
