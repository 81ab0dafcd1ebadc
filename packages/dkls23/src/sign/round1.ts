/**
 * Signing round 1 (spec dkls23.md §5.2): pick r_i, φ_i; for each co-signer j send the
 * session-input binding `H(sign/bind; sid, i, j)`, a fresh nonce, the commitment
 * `C_{i→j} = H(sign/com; sid, i, j, salt, R_i)` and Bob's OT-extension message for the VOLE in which j is the sender, with `τ_B = H(ote/prg; sid, j, i, nonce_{i→j})`.
 * On receipt we first compare the binding (different inputs: `mismatch`, nobody blamed), then run
 * Alice's side (§5.3 step 1–2) so an OTE check failure names j.
 * @module
 */
import {
  next,
  type ProtocolMessage,
  type Round,
  type SignatureOutput,
  type Step,
  Writer,
} from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { commit } from "../commit.js";
import { mulG, type Point } from "../group.js";
import { H } from "../hash.js";
import { type KosMsg, readKosMsg, writeKosMsg } from "../ot/kos.js";
import { NONCE_BYTES } from "../params.js";
import { gadget, type VoleMsg, type VoleReceiverState, voleReceive, voleSend } from "../vole.js";
import { decodeFrom } from "../wire.js";
import { checkPairBinding, pairBinding, publicPart, type SignContext } from "./context.js";
import { Round2 } from "./round2.js";

/** Gadget of the VOLE with sender `a` and receiver `b` under this key epoch. */
export function pairGadget(ctx: SignContext, a: number, b: number): readonly bigint[] {
  return gadget(H("vole/pair", [ctx.share.transcript, a, b]));
}

/** Per co-signer state after round 1. */
export interface PeerState {
  readonly nonceOut: Uint8Array;
  readonly salt: Uint8Array;
  readonly bob: VoleReceiverState;
  nonceIn?: Uint8Array;
  commitmentIn?: Uint8Array;
  /** Alice's outputs and message toward this peer. */
  alice?: { c1: bigint; c2: bigint; msg: VoleMsg };
}

/** Shared round-1 products. */
export interface Round1State {
  readonly ctx: SignContext;
  readonly R: Point;
  readonly pkI: Point;
  readonly peers: Map<number, PeerState>;
}

/** Starts signing: builds round-1 messages. */
export function startSign(ctx: SignContext): Step<SignatureOutput> {
  const R = mulG(ctx.r);
  const peers = new Map<number, PeerState>();
  const out: ProtocolMessage[] = [];
  const Rb = R.toBytes(true);
  for (const j of ctx.others) {
    const nonceOut = randomBytes(NONCE_BYTES);
    const { commitment, salt } = commit("sign/com", ctx.sid, ctx.self, j, [Rb]);
    const pair = ctx.share.pairs.get(j)!;
    const tauB = H("ote/prg", [ctx.sid, j, ctx.self, nonceOut]);
    const { msg, state } = voleReceive(pair.k0, pair.k1, tauB, pairGadget(ctx, j, ctx.self));
    peers.set(j, { nonceOut, salt, bob: state });
    const w = new Writer()
      .fixed(pairBinding(ctx, ctx.self, j))
      .fixed(nonceOut)
      .fixed(commitment);
    writeKosMsg(w, msg);
    out.push({ round: 1, from: ctx.self, to: j, payload: w.finish() });
  }
  return next(new Round1({ ctx, R, pkI: publicPart(ctx), peers }), out);
}

/** Round 1 receiver. */
export class Round1 implements Round<SignatureOutput> {
  readonly number = 1;
  readonly expects;

  constructor(private readonly st: Round1State) {
    this.expects = { from: st.ctx.others, broadcast: false, p2p: true };
  }

  receive(msg: ProtocolMessage): void {
    const { ctx } = this.st;
    const j = msg.from;
    const m = decodeFrom(msg, "sign round 1", (r) => ({
      binding: r.fixed(32),
      nonce: r.fixed(NONCE_BYTES),
      commitment: r.fixed(32),
      ote: readKosMsg(r) as KosMsg,
    }));
    checkPairBinding(ctx, j, m.binding);
    const peer = this.st.peers.get(j)!;
    const pair = ctx.share.pairs.get(j)!;
    const tauB = H("ote/prg", [ctx.sid, ctx.self, j, m.nonce]);
    const tauAB = H("ote/out", [ctx.sid, ctx.self, j, m.nonce, peer.nonceOut]);
    peer.nonceIn = m.nonce;
    peer.commitmentIn = m.commitment;
    peer.alice = voleSend(
      pair.delta,
      pair.kDelta,
      tauB,
      tauAB,
      pairGadget(ctx, ctx.self, j),
      ctx.r,
      ctx.sk,
      m.ote,
      j,
    );
  }

  finalize(): Step<SignatureOutput> {
    return Round2.start(this.st);
  }
}
