/**
 * DKG/refresh round 2 (spec dkls23.md §6.2): open the broadcast commitment (A_i, π_i, cc_i), send
 * `f_i(j)` and the seed contribution P2P, and run the base-OT receiver side (§4.4) for the pair
 * where we are the OTE sender, with fresh choice bits Δ. Receivers check every opening, the PoK,
 * the Feldman equation `f_j(i)·G == Σ_k i^k·A_{j,k}` and every base-OT OR-proof. The base-OT work
 * of different counterparties is independent: it runs as jobs of the context's `parallel` map (the
 * receiver side when the round starts, the sender side once every reply is in, or when the round
 * is settled because it cannot finish). The Feldman equation is checked at the same points; every
 * other check on receipt.
 * @module
 */
import { check, next, type ProtocolMessage, type Round, type Step, Writer } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { opens } from "../commit.js";
import { decodePoint, decodeScalar, mulG, type Point, scalarToBytes } from "../group.js";
import {
  type BaseOtReceiverMsg,
  baseOtContext,
  baseOtReceiveJob,
  baseOtSenderFinishJob,
  readReceiverMsg,
} from "../ot/base-ot.js";
import { KAPPA, SALT_BYTES } from "../params.js";
import { evalCommitment, evalPoly } from "../poly.js";
import type { EcdsaShare } from "../share.js";
import { decodeFrom } from "../wire.js";
import { verifyDlog } from "../zk/schnorr.js";
import type { DkgContext } from "./context.js";
import { feldmanCount } from "./context.js";
import type { Round1Received, Round1Secrets } from "./round1.js";
import { Round3 } from "./round3.js";

/** A dealer's opened broadcast. */
export interface Opened {
  readonly feldman: readonly Point[];
  readonly feldmanBytes: readonly Uint8Array[];
  readonly pok: Uint8Array;
  readonly cc: Uint8Array;
}

/** Our pairwise OT state produced in this round. */
export interface OtSenderSide {
  readonly delta: Uint8Array;
  readonly kDelta: Uint8Array;
}

/** Round 2 receiver. */
export class Round2 implements Round<EcdsaShare> {
  readonly number = 2;
  readonly expects;
  readonly opened = new Map<number, Opened>();
  readonly shares = new Map<number, bigint>();
  readonly seeds = new Map<number, Uint8Array>();
  readonly otReceiver = new Map<number, { k0: Uint8Array; k1: Uint8Array }>();
  /** Each counterparty's validated base-OT reply, finished in {@link finalize}. */
  private readonly otReplies = new Map<number, BaseOtReceiverMsg>();

  private constructor(
    readonly ctx: DkgContext,
    readonly secrets: Round1Secrets,
    readonly r1: Round1Received,
    readonly otSender: ReadonlyMap<number, OtSenderSide>,
  ) {
    this.expects = { from: ctx.others, broadcast: true, p2p: true };
  }

  /** Builds our round-2 messages (including the expensive base-OT receiver work). */
  static start(ctx: DkgContext, secrets: Round1Secrets, r1: Round1Received): Step<EcdsaShare> {
    const out: ProtocolMessage[] = [];
    const b = new Writer().fixed(secrets.salt);
    for (const A of secrets.feldman) b.fixed(A);
    b.fixed(secrets.pok).fixed(secrets.cc);
    out.push({ round: 2, from: ctx.self, to: "all", payload: b.finish() });
    const inputs = ctx.others.map((j) => ({
      T: baseOtContext(ctx.sid, j, ctx.self),
      delta: randomBytes(KAPPA / 8),
      senderMsg: r1.otSender.get(j)!,
      sender: j,
    }));
    const replies = ctx.parallel.map(baseOtReceiveJob, inputs);
    const otSender = new Map<number, OtSenderSide>();
    ctx.others.forEach((j, n) => {
      const { msg, keys } = replies[n]!;
      otSender.set(j, { delta: inputs[n]!.delta, kDelta: keys });
      const seed = secrets.seeds.get(j)!;
      const w = new Writer()
        .fixed(scalarToBytes(evalPoly(secrets.poly, j)))
        .fixed(seed.value)
        .fixed(seed.salt)
        .fixed(msg);
      out.push({ round: 2, from: ctx.self, to: j, payload: w.finish() });
    });
    return next(new Round2(ctx, secrets, r1, otSender), out);
  }

  receive(msg: ProtocolMessage): void {
    const j = msg.from;
    const keygen = this.ctx.mode.kind === "keygen";
    if (msg.to === "all") {
      const o = decodeFrom(msg, "DKG round 2 broadcast", (r) => {
        const salt = r.fixed(SALT_BYTES);
        const feldmanBytes = Array.from({ length: feldmanCount(this.ctx) }, () => r.fixed(33));
        const pok = r.fixed(keygen ? 65 : 0);
        const cc = r.fixed(keygen ? 32 : 0);
        return { salt, feldmanBytes, pok, cc };
      });
      check(
        opens(this.r1.commitment.get(j)!, "dkg/com", this.ctx.sid, j, "all", o.salt, [
          ...o.feldmanBytes,
          o.pok,
          o.cc,
        ]),
        j,
        "DKG: commitment does not open",
      );
      const feldman = o.feldmanBytes.map((b, k) => decodePoint(b, j, `Feldman point ${k}`));
      if (keygen) {
        const K = decodePoint(o.pok.subarray(0, 33), j, "PoK commitment");
        const z = decodeScalar(o.pok.subarray(33), j, "PoK response");
        check(
          verifyDlog([this.ctx.sid, j, "dkg/pok"], feldman[0]!, { K, z }),
          j,
          "DKG: invalid proof of knowledge",
        );
      }
      this.opened.set(j, { feldman, feldmanBytes: o.feldmanBytes, pok: o.pok, cc: o.cc });
      return;
    }
    const p = decodeFrom(msg, "DKG round 2", (r) => ({
      share: decodeScalar(r.fixed(32), j, "secret share"),
      seed: r.fixed(32),
      seedSalt: r.fixed(SALT_BYTES),
      ot: readReceiverMsg(r, j),
    }));
    check(
      opens(this.r1.seedCommitment.get(j)!, "dkg/seed", this.ctx.sid, j, this.ctx.self, p.seedSalt, [p.seed]),
      j,
      "DKG: seed commitment does not open",
    );
    this.otReplies.set(j, p.ot);
    this.shares.set(j, p.share);
    const own = this.secrets.seeds.get(j)!.value;
    this.seeds.set(
      j,
      own.map((v, k) => v ^ p.seed[k]!),
    );
  }

  /**
   * Finishes the base OTs of every reply received so far (their OR-proofs are checked here),
   * through the context's parallel map.
   * @throws ProtocolError `bad-message` naming the first counterparty whose reply fails.
   */
  private finishBaseOts(): void {
    const { ctx } = this;
    const from = ctx.others.filter((j) => this.otReplies.has(j) && !this.otReceiver.has(j));
    const keys = ctx.parallel.map(
      baseOtSenderFinishJob,
      from.map((j) => ({
        T: baseOtContext(ctx.sid, ctx.self, j),
        s: this.secrets.ot.get(j)!.s,
        msg: this.otReplies.get(j)!,
        receiver: j,
      })),
    );
    from.forEach((j, n) => {
      this.otReceiver.set(j, keys[n]!);
    });
  }

  /**
   * Feldman check of every dealer in `dealers` (needs both its broadcast and its P2P share).
   * @throws ProtocolError `bad-message` naming the first dealer whose share fails.
   */
  private checkFeldman(dealers: readonly number[]): void {
    const keygen = this.ctx.mode.kind === "keygen";
    for (const j of dealers) {
      const A = this.opened.get(j)!.feldman;
      const lhs = mulG(this.shares.get(j)!);
      const rhs = evalCommitment(A, this.ctx.self, keygen ? 0 : 1);
      check(lhs.equals(rhs), j, "DKG: share fails the Feldman check");
    }
  }

  /**
   * The round cannot finish: runs the checks deferred to `finalize` on what is in (the base OTs of
   * the replies received, the Feldman check of every dealer whose broadcast and share are both
   * in), so a sender of an invalid message is still named.
   */
  settle(): void {
    this.finishBaseOts();
    this.checkFeldman(this.ctx.others.filter((j) => this.opened.has(j) && this.shares.has(j)));
  }

  finalize(): Step<EcdsaShare> {
    this.finishBaseOts();
    this.checkFeldman(this.ctx.others);
    return Round3.start(this);
  }
}
