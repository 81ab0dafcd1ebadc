/**
 * DKG/refresh round 1 (spec dkls23.md §6.2): pick `f_i`, commit (broadcast) to the Feldman vector
 * `A_i`, the PoK `π_i` of `a_{i,0}` and the chain-code contribution `cc_i`; commit (P2P) to the
 * zero-share seed contribution; send the base-OT sender's `z = s·G` with its PoK (§4.4) for the
 * pair where we are the OTE receiver. The P2P message starts with the session-input binding
 * `H(dkg/bind; sid, i, j)`, compared on receipt before anything else (`mismatch`, nobody blamed).
 * @module
 */
import { check, next, type ProtocolMessage, Reader, type Round, type Step, Writer } from "@custody/core";
import { commit } from "../commit.js";
import { mulG, pointToBytes, scalarToBytes } from "../group.js";
import {
  type BaseOtSenderSecret,
  baseOtContext,
  baseOtSenderStart,
  checkSenderProof,
  readSenderMsg,
  SENDER_MSG_BYTES,
  writeSenderMsg,
} from "../ot/base-ot.js";
import { randomPolynomial } from "../poly.js";
import type { EcdsaShare } from "../share.js";
import { decodeFrom } from "../wire.js";
import { proveDlog, type SchnorrProof } from "../zk/schnorr.js";
import { checkPairBinding, contribution, type DkgContext, pairBinding } from "./context.js";
import { Round2 } from "./round2.js";

/** Our secrets and openings created in round 1. */
export interface Round1Secrets {
  readonly poly: readonly bigint[];
  /** Encoded Feldman points (t or t − 1 of them). */
  readonly feldman: readonly Uint8Array[];
  /** Encoded PoK of a_{i,0} (keygen only, else empty). */
  readonly pok: Uint8Array;
  /** Chain-code contribution (keygen only, else empty). */
  readonly cc: Uint8Array;
  readonly salt: Uint8Array;
  readonly seeds: ReadonlyMap<number, { value: Uint8Array; salt: Uint8Array }>;
  readonly ot: ReadonlyMap<number, BaseOtSenderSecret>;
}

/** What peers sent in round 1. */
export interface Round1Received {
  readonly commitment: Map<number, Uint8Array>;
  readonly seedCommitment: Map<number, Uint8Array>;
  /** Each base-OT sender's message as received (validated on receipt). */
  readonly otSender: Map<number, Uint8Array>;
}

/** Encodes a Schnorr proof as K ‖ z. */
export function encodeProof(p: SchnorrProof): Uint8Array {
  return new Writer().fixed(pointToBytes(p.K)).fixed(scalarToBytes(p.z)).finish();
}

/** Starts DKG or refresh: returns round 1 and its messages. */
export function startDkg(ctx: DkgContext): Step<EcdsaShare> {
  const keygen = ctx.mode.kind === "keygen";
  const poly = randomPolynomial(ctx.threshold, keygen ? undefined : 0n);
  const feldman = poly.slice(keygen ? 0 : 1).map((a) => pointToBytes(mulG(a)));
  const pok = keygen
    ? encodeProof(proveDlog([ctx.sid, ctx.self, "dkg/pok"], poly[0]!, mulG(poly[0]!)))
    : new Uint8Array();
  const cc = keygen ? contribution() : new Uint8Array();
  const { commitment, salt } = commit("dkg/com", ctx.sid, ctx.self, "all", [...feldman, pok, cc]);
  const out: ProtocolMessage[] = [{ round: 1, from: ctx.self, to: "all", payload: commitment }];
  const seeds = new Map<number, { value: Uint8Array; salt: Uint8Array }>();
  const ot = new Map<number, BaseOtSenderSecret>();
  for (const j of ctx.others) {
    const value = contribution();
    const c = commit("dkg/seed", ctx.sid, ctx.self, j, [value]);
    seeds.set(j, { value, salt: c.salt });
    const bo = baseOtSenderStart(baseOtContext(ctx.sid, ctx.self, j));
    ot.set(j, bo.secret);
    const w = new Writer().fixed(pairBinding(ctx, ctx.self, j)).fixed(c.commitment);
    writeSenderMsg(w, bo.msg);
    out.push({ round: 1, from: ctx.self, to: j, payload: w.finish() });
  }
  const secrets: Round1Secrets = { poly, feldman, pok, cc, salt, seeds, ot };
  return next(new Round1(ctx, secrets), out);
}

/** Round 1 receiver: stores commitments and the base-OT sender messages. */
export class Round1 implements Round<EcdsaShare> {
  readonly number = 1;
  readonly expects;
  private readonly got: Round1Received = {
    commitment: new Map(),
    seedCommitment: new Map(),
    otSender: new Map(),
  };

  constructor(
    private readonly ctx: DkgContext,
    private readonly secrets: Round1Secrets,
  ) {
    this.expects = { from: ctx.others, broadcast: true, p2p: true };
  }

  receive(msg: ProtocolMessage): void {
    if (msg.to === "all") {
      check(msg.payload.length === 32, msg.from, "DKG round 1: commitment must be 32 bytes");
      this.got.commitment.set(msg.from, msg.payload);
      return;
    }
    const m = decodeFrom(msg, "DKG round 1", (r) => {
      const binding = r.fixed(32);
      const seedCommitment = r.fixed(32);
      const otSender = r.fixed(SENDER_MSG_BYTES);
      readSenderMsg(new Reader(otSender), msg.from);
      return { binding, seedCommitment, otSender };
    });
    checkPairBinding(this.ctx, msg.from, m.binding);
    this.got.seedCommitment.set(msg.from, m.seedCommitment);
    this.got.otSender.set(msg.from, m.otSender);
  }

  /**
   * The round cannot finish: checks the base-OT PoKs received so far (otherwise checked when
   * round 2 starts), so a sender of a bad one is named.
   */
  settle(): void {
    for (const [j, bytes] of this.got.otSender)
      checkSenderProof(baseOtContext(this.ctx.sid, j, this.ctx.self), readSenderMsg(new Reader(bytes), j), j);
  }

  finalize(): Step<EcdsaShare> {
    return Round2.start(this.ctx, this.secrets, this.got);
  }
}
