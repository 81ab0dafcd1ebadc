/**
 * Signing round 2 (spec dkls23.md §5.3–5.4): send `R_i`, the salt, `pk_i`, `Γ^u = c^u·G`,
 * `Γ^v = c^v·G`, `ψ_{ij} = φ_i − χ_{ij}` and Alice's VOLE message. On receipt check the
 * decommitment of R_j (bad-message), finish the VOLE as Bob (μ check: security), and the Γ checks
 * `χ·R_j == d^u·G + Γ^u`, `χ·pk_j == d^v·G + Γ^v` (security). Finalize checks `Σ pk_k == pk'`,
 * computes R, r, and broadcasts `(u_i, w_i)`.
 * @module
 */
import {
  check,
  next,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type SignatureOutput,
  type Step,
  Writer,
} from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { opens } from "../commit.js";
import {
  bytesToBig,
  decodePoint,
  decodeScalar,
  mod,
  mulG,
  mulSecret,
  N,
  type Point,
  pointToBytes,
  scalarToBytes,
} from "../group.js";
import { H } from "../hash.js";
import { SALT_BYTES } from "../params.js";
import { readVoleMsg, voleReceiveFinish, writeVoleMsg } from "../vole.js";
import { decodeFrom } from "../wire.js";
import { pairGadget, type Round1State } from "./round1.js";
import { Round3 } from "./round3.js";

/** What we keep per co-signer after round 2. */
interface Received {
  readonly R: Point;
  readonly pk: Point;
  readonly psi: bigint;
  readonly du: bigint;
  readonly dv: bigint;
}

/** Round 2 receiver. */
export class Round2 implements Round<SignatureOutput> {
  readonly number = 2;
  readonly expects;
  private readonly got = new Map<number, Received>();

  private constructor(private readonly st: Round1State) {
    this.expects = { from: st.ctx.others, broadcast: false, p2p: true };
  }

  /** Builds round-2 messages. */
  static start(st: Round1State): Step<SignatureOutput> {
    const { ctx } = st;
    const out: ProtocolMessage[] = [];
    const Rb = pointToBytes(st.R);
    const pkb = pointToBytes(st.pkI);
    for (const j of ctx.others) {
      const peer = st.peers.get(j)!;
      const a = peer.alice!;
      const w = new Writer()
        .fixed(Rb)
        .fixed(peer.salt)
        .fixed(pkb)
        .fixed(pointToBytes(mulG(a.c1)))
        .fixed(pointToBytes(mulG(a.c2)))
        .fixed(scalarToBytes(mod(ctx.phi - peer.bob.b)));
      writeVoleMsg(w, a.msg);
      out.push({ round: 2, from: ctx.self, to: j, payload: w.finish() });
    }
    return next(new Round2(st), out);
  }

  receive(msg: ProtocolMessage): void {
    const { ctx } = this.st;
    const j = msg.from;
    const m = decodeFrom(msg, "sign round 2", (r) => ({
      Rb: r.fixed(33),
      salt: r.fixed(SALT_BYTES),
      pkb: r.fixed(33),
      gu: r.fixed(33),
      gv: r.fixed(33),
      psi: r.fixed(32),
      vole: readVoleMsg(r, j),
    }));
    const peer = this.st.peers.get(j)!;
    const R = decodePoint(m.Rb, j, "R_j");
    const pk = decodePoint(m.pkb, j, "pk_j");
    const gu = decodePoint(m.gu, j, "Γ^u");
    const gv = decodePoint(m.gv, j, "Γ^v");
    const psi = decodeScalar(m.psi, j, "ψ");
    check(
      opens(peer.commitmentIn!, "sign/com", ctx.sid, j, ctx.self, m.salt, [m.Rb]),
      j,
      "R_j does not open its commitment",
    );
    const tauAB = H("ote/out", [ctx.sid, j, ctx.self, peer.nonceOut, peer.nonceIn!]);
    const { d1: du, d2: dv } = voleReceiveFinish(peer.bob, tauAB, pairGadget(ctx, j, ctx.self), m.vole, j);
    // Γ checks `χ·R_j == d^u·G + Γ^u` and `χ·pk_j == d^v·G + Γ^v`, batched with a fresh
    // 128-bit weight ρ drawn after j's message arrived: χ·(R_j + ρ·pk_j) == (d^u + ρ·d^v)·G +
    // Γ^u + ρ·Γ^v. If either equation is false the batch fails except with probability 2^-128
    // (the group has prime order). χ (secret) only meets the constant-time `multiply`; ρ and the
    // points are public, so `multiplyUnsafe` is fine for them.
    const chi = peer.bob.b;
    const rho = bytesToBig(randomBytes(16)) | 1n;
    const lhs = mulSecret(R.add(pk.multiplyUnsafe(rho)), chi);
    const rhs = mulG(mod(du + rho * dv))
      .add(gu)
      .add(gv.multiplyUnsafe(rho));
    if (!lhs.equals(rhs)) throw new ProtocolError("security", "Γ consistency check failed", [j]);
    this.got.set(j, { R, pk, psi, du, dv });
  }

  finalize(): Step<SignatureOutput> {
    const { ctx } = this.st;
    let pkSum = this.st.pkI;
    let R = this.st.R;
    for (const j of ctx.others) {
      pkSum = pkSum.add(this.got.get(j)!.pk);
      R = R.add(this.got.get(j)!.R);
    }
    if (!pkSum.equals(ctx.pk))
      throw new ProtocolError(
        "mismatch",
        "sum of signers' public key parts differs from the (derived) public key",
        ctx.others.length === 1 ? ctx.others : [],
      );
    if (R.is0()) throw new ProtocolError("mismatch", "combined nonce R is the identity");
    const { x, y } = R.toAffine();
    const r = x % N;
    if (r === 0n) throw new ProtocolError("mismatch", "r = 0");
    let Phi = ctx.phi;
    let u = 0n;
    let v = 0n;
    for (const j of ctx.others) {
      const g = this.got.get(j)!;
      const a = this.st.peers.get(j)!.alice!;
      Phi += g.psi;
      u += a.c1 + g.du;
      v += a.c2 + g.dv;
    }
    Phi = mod(Phi);
    u = mod(ctx.r * Phi + u);
    v = mod(ctx.sk * Phi + v);
    const w = mod(ctx.z * ctx.phi + r * v);
    const payload = new Writer().fixed(scalarToBytes(u)).fixed(scalarToBytes(w)).finish();
    const recBits = Number(y & 1n) | (x >= N ? 2 : 0);
    return next(new Round3(ctx, r, recBits, u, w), [{ round: 3, from: ctx.self, to: "all", payload }]);
  }
}
