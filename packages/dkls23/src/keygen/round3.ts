/**
 * DKG/refresh round 3, confirmation (spec dkls23.md §6.2, §7): compute the new share, group key,
 * public shares, chain code and seeds, then broadcast the digest
 * `H(dkg/confirm; sid, every A_j, π_j, cc_j, pk, X_1..X_n)`. Every party compares all digests; any
 * difference is a `mismatch` abort and the share is not activated (echo broadcast).
 * @module
 */
import { check, done, next, ProtocolError, type ProtocolMessage, type Round, type Step } from "@custody/core";
import { ctEqual, mod, mulG, Point, pointToBytes } from "../group.js";
import { H } from "../hash.js";
import { evalCommitment, evalPoly } from "../poly.js";
import { EcdsaShare, type PairState } from "../share.js";
import type { Round2 } from "./round2.js";

/** Round 3 receiver: compares confirmation digests. */
export class Round3 implements Round<EcdsaShare> {
  readonly number = 3;
  readonly expects;

  private constructor(
    private readonly share: EcdsaShare,
    private readonly digest: Uint8Array,
    others: readonly number[],
  ) {
    this.expects = { from: others, broadcast: true, p2p: false };
  }

  /** Computes the local output of the run and broadcasts its confirmation digest. */
  static start(r2: Round2): Step<EcdsaShare> {
    const { ctx, secrets } = r2;
    const keygen = ctx.mode.kind === "keygen";
    const old = ctx.mode.kind === "refresh" ? ctx.mode.share : undefined;
    const first = keygen ? 0 : 1;
    // Sum of all dealers' Feldman vectors, coefficient-wise.
    const own = secrets.feldman.map((b) => Point.fromBytes(b));
    const sum = own.map((A, k) => ctx.others.reduce((acc, j) => acc.add(r2.opened.get(j)!.feldman[k]!), A));
    let secret = evalPoly(secrets.poly, ctx.self);
    for (const j of ctx.others) secret = mod(secret + r2.shares.get(j)!);
    if (old) secret = mod(secret + old.secret);
    check(secret !== 0n, ctx.self, "DKG: zero share");
    const pk = keygen ? sum[0]! : Point.fromBytes(old!.publicKey);
    if (pk.is0()) throw new ProtocolError("mismatch", "DKG: group key is the identity");
    const publicShares = new Map<number, Uint8Array>();
    for (const k of ctx.parties) {
      let X = evalCommitment(sum, k, first);
      if (old) X = X.add(Point.fromBytes(old.publicShares.get(k)!));
      if (X.is0()) throw new ProtocolError("mismatch", `DKG: public share of party ${k} is the identity`);
      publicShares.set(k, pointToBytes(X));
    }
    if (!ctEqual(pointToBytes(mulG(secret)), publicShares.get(ctx.self)!))
      throw new ProtocolError("internal", "DKG: own share does not match its public share");
    const dealers = (d: number) =>
      d === ctx.self
        ? { feldmanBytes: secrets.feldman, pok: secrets.pok, cc: secrets.cc }
        : r2.opened.get(d)!;
    const chainCode = keygen
      ? H("dkg/cc", [ctx.sid, ...ctx.parties.map((d) => dealers(d).cc)])
      : old!.chainCode;
    const publicKey = pointToBytes(pk);
    const digest = H("dkg/confirm", [
      ctx.sid,
      ...ctx.parties.flatMap((d) => [...dealers(d).feldmanBytes, dealers(d).pok, dealers(d).cc]),
      publicKey,
      chainCode,
      ...ctx.parties.map((k) => publicShares.get(k)!),
    ]);
    const pairs = new Map<number, PairState>();
    for (const j of ctx.others) {
      const s = r2.otSender.get(j)!;
      const r = r2.otReceiver.get(j)!;
      pairs.set(j, { seed: r2.seeds.get(j)!, delta: s.delta, kDelta: s.kDelta, k0: r.k0, k1: r.k1 });
    }
    const share = new EcdsaShare({
      threshold: ctx.threshold,
      parties: ctx.parties,
      self: ctx.self,
      secret,
      publicKey,
      chainCode,
      publicShares,
      pairs,
      transcript: digest,
      epoch: old ? old.epoch + 1 : 0,
    });
    const out: ProtocolMessage[] = [{ round: 3, from: ctx.self, to: "all", payload: digest }];
    return next(new Round3(share, digest, ctx.others), out);
  }

  receive(msg: ProtocolMessage): void {
    check(msg.payload.length === 32, msg.from, "DKG confirmation must be 32 bytes");
    if (!ctEqual(msg.payload, this.digest))
      throw new ProtocolError("mismatch", "DKG: confirmation digest differs", [msg.from]);
  }

  finalize(): Step<EcdsaShare> {
    return done(this.share);
  }
}
