/**
 * Signing output (spec dkls23.md §5.5): sum `u = Σ u_k`, `w = Σ w_k`, `s = w/u`, normalise to
 * low-s (flipping the recovery id), and verify `(r, s)` under pk' before returning it.
 * @module
 */
import {
  done,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type SignatureOutput,
  type Step,
} from "@custody/core";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { decodeScalar, inv, mod, N, scalarToBytes } from "../group.js";
import { decodeFrom } from "../wire.js";
import type { SignContext } from "./context.js";

/** Round 3 receiver and combiner. */
export class Round3 implements Round<SignatureOutput> {
  readonly number = 3;
  readonly expects;
  private u: bigint;
  private w: bigint;

  constructor(
    private readonly ctx: SignContext,
    private readonly r: bigint,
    private readonly recBits: number,
    u: bigint,
    w: bigint,
  ) {
    this.u = u;
    this.w = w;
    this.expects = { from: ctx.others, broadcast: true, p2p: false };
  }

  receive(msg: ProtocolMessage): void {
    const m = decodeFrom(msg, "sign round 3", (r) => ({ u: r.fixed(32), w: r.fixed(32) }));
    this.u = mod(this.u + decodeScalar(m.u, msg.from, "u_j"));
    this.w = mod(this.w + decodeScalar(m.w, msg.from, "w_j"));
  }

  finalize(): Step<SignatureOutput> {
    if (this.u === 0n) throw new ProtocolError("mismatch", "u = 0");
    let s = mod(this.w * inv(this.u));
    if (s === 0n) throw new ProtocolError("mismatch", "s = 0");
    let recoveryId = this.recBits;
    if (s > N >> 1n) {
      s = N - s;
      recoveryId ^= 1;
    }
    const signature = new Uint8Array(64);
    scalarToBytes(this.r, signature, 0);
    scalarToBytes(s, signature, 32);
    if (!secp256k1.verify(signature, this.ctx.message, this.ctx.publicKey, { prehash: false, lowS: true }))
      throw new ProtocolError("mismatch", "combined signature does not verify");
    const der = secp256k1.Signature.fromBytes(signature, "compact").toBytes("der");
    return done({ signature, publicKey: this.ctx.publicKey, recoveryId, der });
  }
}
