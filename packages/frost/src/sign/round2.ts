/**
 * Signing round 2 (RFC 9591 §5.3/§5.4): each signer checks that every other signer signed the
 * same signing package and that its share is a canonical scalar, aggregates, and verifies the
 * final signature with the scheme's standard verifier before returning it. Only when that fails
 * are the signature shares verified one by one against their signers' verifying shares (RFC 9591
 * §5.4 permits either order): by linearity an invalid aggregate has at least one invalid share,
 * and every invalid share's signer is named. Nothing is returned unless the signature verifies.
 * A round that cannot finish because a signer withholds its share is settled: the shares already
 * in are verified one by one, so a signer of an invalid share is named even then.
 * @module
 */
import {
  done,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type SignatureOutput,
  type Step,
} from "@custody/core";
import { equalBytes } from "@noble/curves/utils.js";
import { keyElements } from "../share.js";
import { others, parsePayload } from "../wire.js";
import { aggregateWithPackage, type SigningPackage, verifyWithPackage } from "./primitives.js";
import type { SignContext } from "./round1.js";

/** Collects signature shares, aggregates and verifies; checks the shares only on failure. */
export class SignRound2 implements Round<SignatureOutput> {
  readonly number = 2;
  readonly expects;
  private readonly shares = new Map<PartyId, Uint8Array>();

  constructor(
    private readonly ctx: SignContext,
    private readonly pkg: SigningPackage,
    private readonly packageHash: Uint8Array,
    own: Uint8Array,
  ) {
    this.expects = { from: others(ctx.signers, ctx.share.self), broadcast: true, p2p: false };
    this.shares.set(ctx.share.self, own);
  }

  receive(msg: ProtocolMessage): void {
    const { suite } = this.ctx;
    const { hash, z } = parsePayload(msg, "sign round 2", (r) => {
      const hash = r.fixed(32);
      const z = r.fixed(suite.scalarLength);
      suite.decodeScalar(z);
      return { hash, z };
    });
    // A differing package means round 1 was not seen alike; whoever equivocated is unknown here.
    if (!equalBytes(hash, this.packageHash))
      throw new ProtocolError("mismatch", `party ${msg.from} signed a different signing package`);
    this.shares.set(msg.from, z);
  }

  /** The other signers among `from` whose shares fail verification against their verifying shares. */
  private invalidShares(from: readonly PartyId[]): PartyId[] {
    return others(from, this.ctx.share.self).filter(
      (p) => !verifyWithPackage(this.pkg, p, this.shares.get(p)!),
    );
  }

  /**
   * The round cannot finish (another signer withholds its share): verifies every share received so
   * far against its signer's verifying share, so an invalid one is named all the same.
   */
  settle(): void {
    const culprits = this.invalidShares([...this.shares.keys()]);
    if (culprits.length > 0) throw new ProtocolError("bad-message", "invalid signature share", culprits);
  }

  finalize(): Step<SignatureOutput> {
    const { suite, share, message } = this.ctx;
    const signature = aggregateWithPackage(this.pkg, this.shares);
    const publicKey = suite.publicKey(keyElements(suite, share).groupKey);
    if (!suite.verify(signature, message, publicKey)) {
      const culprits = this.invalidShares([...this.pkg.signers.keys()]);
      // Every other share valid: this signer's own share is wrong, which blames nobody.
      if (culprits.length === 0) throw new ProtocolError("internal", "aggregated signature does not verify");
      throw new ProtocolError("bad-message", "invalid signature share", culprits);
    }
    return done({ signature, publicKey });
  }
}
