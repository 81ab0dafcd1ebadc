/**
 * Verified endemic base OT (spec dkls23.md §4.4 Option A; Zhou et al. eprint 2022/1525 §3) with
 * `h_k` from RFC 9380 hash-to-curve, so the receiver cannot know `log h_k` (finding F1).
 *
 * Per ordered pair, κ = 256 random OTs. The base-OT *sender* (Bob, the later OTE receiver) sends
 * `z = s·G` with a Schnorr PoK. The base-OT *receiver* (Alice, the later OTE sender) has choice
 * bits Δ; per instance k she sends `u = r·h_k`, `v = r·G + Δ_k·h_k` and a CDS OR-composition of two
 * Chaum–Pedersen proofs that `(u, v − c·h_k)` is a DH pair w.r.t. `(h_k, G)` for some c ∈ {0, 1}.
 * We send the OR-proof commitments explicitly (`A_c, B_c`) so the sender can verify all 4κ
 * equations in one randomised multi-scalar multiplication (soundness error 2^-128 per batch).
 * Secret scalars (r, w, the simulated branch, s) are only ever multiplied by libsecp256k1's
 * constant-time `ecmult_const` / `ecmult_gen` (../secp.ts), on points kept in one affine
 * representation (65 uncompressed bytes) across the whole batch; the choice bit only drives
 * constant-time byte selections. Variable-time noble arithmetic is used for public values only.
 * Outputs: sender `k^c_k = H(ot/base/msg; T, k, c, s·(v − c·h_k))`, receiver `k^Δ_k = H(…, Δ_k, r·z)`.
 * The instance index k and the choice c are bound into every hash (§4.4 step 5).
 * @module
 */
import { check, type Job, ProtocolError, Reader, Writer } from "@custody/core";
import { normalizeZ } from "@noble/curves/abstract/curve.js";
import { randomBytes } from "@noble/hashes/utils.js";
import {
  bytesToBig,
  decodePoint,
  decodeScalar,
  G,
  mod,
  mulG,
  Point,
  pointToBytes,
  randomScalar,
  scalarToBytes,
} from "../group.js";
import { H, HG, HS } from "../hash.js";
import { msmPublic } from "../msm.js";
import { KAPPA } from "../params.js";
import {
  type Affine,
  compress,
  ctAdd,
  ctMul,
  ctMulG,
  ctSelect,
  decompress,
  fromAffine,
  toAffine,
} from "../secp.js";
import { proveDlog, type SchnorrProof, verifyDlog } from "../zk/schnorr.js";

/** Context of one ordered pair's base OTs: `T = H(ot/base/ctx; sid, sender, receiver)`. */
export function baseOtContext(sid: Uint8Array, sender: number, receiver: number): Uint8Array {
  return H("ot/base/ctx", [sid, sender, receiver]);
}

/** Bit k of a packed LSB-first bit string. */
export function bit(bits: Uint8Array, k: number): number {
  return (bits[k >> 3]! >>> (k & 7)) & 1;
}

/** Sender's first message: `z = s·G` and a PoK of s bound to T. */
export interface BaseOtSenderMsg {
  readonly z: Point;
  readonly proof: SchnorrProof;
}

/** Sender's secret state between its message and the receiver's reply. */
export interface BaseOtSenderSecret {
  readonly s: bigint;
  readonly z: Point;
}

/** One OT instance of the receiver's message (points validated, in the affine batch form). */
interface ReceiverInstance {
  readonly u: Affine;
  readonly v: Affine;
  readonly A0: Affine;
  readonly B0: Affine;
  readonly A1: Affine;
  readonly B1: Affine;
  readonly e0: bigint;
  readonly z0: bigint;
  readonly z1: bigint;
}

/** Receiver's message: a public seed for the `h_k` and κ instances. */
export interface BaseOtReceiverMsg {
  readonly seed: Uint8Array;
  readonly inst: readonly ReceiverInstance[];
}

function hk(T: Uint8Array, k: number, seed: Uint8Array): Point {
  const msg = new Uint8Array(32 + 4 + 32);
  msg.set(T, 0);
  new DataView(msg.buffer).setUint32(32, k);
  msg.set(seed, 36);
  return HG("ot/base/h", msg);
}

/** All κ points `h_k`, normalised together (one inversion). */
function hkAll(T: Uint8Array, seed: Uint8Array): Point[] {
  return normalizeZ(
    Point,
    Array.from({ length: KAPPA }, (_, k) => hk(T, k, seed)),
  );
}

function orChallenge(T: Uint8Array, k: number, h: Affine, it: Omit<ReceiverInstance, "e0" | "z0" | "z1">) {
  return HS("ot/base/enc", [
    T,
    k,
    compress(h),
    compress(it.u),
    compress(it.v),
    compress(it.A0),
    compress(it.B0),
    compress(it.A1),
    compress(it.B1),
  ]);
}

function outKey(T: Uint8Array, k: number, c: number, P: Affine): Uint8Array {
  return H("ot/base/msg", [T, k, c, compress(P)]);
}

/** `bit ? x : y` for scalars, through a constant-time byte selection (no branch on the bit). */
function select(bit: number, x: bigint, y: bigint): bigint {
  return bytesToBig(ctSelect(bit, scalarToBytes(x), scalarToBytes(y)));
}

/** `A + B` of points derived from fresh secrets: the identity has probability about 2^-256. */
function sum(A: Affine, B: Affine): Affine {
  const S = ctAdd(A, B);
  if (!S) throw new ProtocolError("internal", "base OT: degenerate sum");
  return S;
}

/**
 * Verifies the sender's PoK of `s` (bound to T).
 * @throws ProtocolError `bad-message` blaming `sender` when it fails.
 */
export function checkSenderProof(T: Uint8Array, senderMsg: BaseOtSenderMsg, sender: number): void {
  check(verifyDlog([T, "ot/base/z"], senderMsg.z, senderMsg.proof), sender, "base OT: invalid PoK of z");
}

/** Sender step 1: pick s, publish `z = s·G` with a PoK bound to T. */
export function baseOtSenderStart(T: Uint8Array): { msg: BaseOtSenderMsg; secret: BaseOtSenderSecret } {
  const s = randomScalar();
  const z = mulG(s);
  return { msg: { z, proof: proveDlog([T, "ot/base/z"], s, z) }, secret: { s, z } };
}

/**
 * Receiver: verifies the sender's PoK, then runs κ instances with choice bits `delta`.
 *
 * Every multiplication by a secret scalar (r, the real commitment nonce w, and the simulated
 * branch's values) is libsecp256k1's constant-time `ecmult_const` (multiples of `h_k` and z) or
 * `ecmult_gen` (multiples of G). The simulated branch is computed from multiples of `h_k` only:
 * with `t = z_sim + e_sim·r` and `V_{1−b} = r·G + (2b − 1)·h_k`, `A_sim = t·G + (2b − 1)·e_sim·h_k`
 * and `B_sim = z_sim·h_k + e_sim·u = t·h_k`. The sign `2b − 1` is applied by multiplying
 * `±h_k` (a constant-time selection between two public points), and the choice bit otherwise only
 * selects, in constant time (bytewise masks), between points and scalars computed in both cases.
 * @returns the message for the sender and the chosen keys `k^{Δ_k}_k` (κ × 32 bytes)
 * @throws ProtocolError `bad-message` blaming `sender` when its PoK fails.
 */
export function baseOtReceive(
  T: Uint8Array,
  delta: Uint8Array,
  senderMsg: BaseOtSenderMsg,
  sender: number,
): { msg: BaseOtReceiverMsg; keys: Uint8Array } {
  checkSenderProof(T, senderMsg, sender);
  const z = toAffine(senderMsg.z);
  const seed = randomBytes(32);
  const hp = hkAll(T, seed);
  const inst: ReceiverInstance[] = [];
  const keys = new Uint8Array(KAPPA * 32);
  for (let k = 0; k < KAPPA; k++) {
    const b = bit(delta, k);
    const h = toAffine(hp[k]!);
    const hNeg = toAffine(hp[k]!.negate());
    const r = randomScalar();
    const w = randomScalar();
    const t = randomScalar();
    const eSim = randomScalar();
    const u = ctMul(h, r);
    const wh = ctMul(h, w);
    const th = ctMul(h, t);
    const eh = ctMul(ctSelect(b, h, hNeg), eSim);
    const rG = ctMulG(r);
    const v = ctSelect(b, sum(rG, h), rG);
    const aSim = sum(ctMulG(t), eh);
    const aReal = ctMulG(w);
    const pts = {
      u,
      v,
      A0: ctSelect(b, aSim, aReal),
      B0: ctSelect(b, th, wh),
      A1: ctSelect(b, aReal, aSim),
      B1: ctSelect(b, wh, th),
    };
    const e = orChallenge(T, k, h, pts);
    const eReal = mod(e - eSim);
    const zReal = mod(w - eReal * r);
    const zSim = mod(t - eSim * r);
    inst.push({ ...pts, e0: select(b, eSim, eReal), z0: select(b, zSim, zReal), z1: select(b, zReal, zSim) });
    keys.set(outKey(T, k, b, ctMul(z, r)), 32 * k);
  }
  return { msg: { seed, inst }, keys };
}

/**
 * Sender step 2: verifies every OR-proof (one batched multi-scalar multiplication on public
 * values) and derives both keys per instance with constant-time multiplications by s.
 * @returns `k0`, `k1`: κ × 32 bytes each
 * @throws ProtocolError `bad-message` blaming `receiver` when a proof fails.
 */
export function baseOtSenderFinish(
  T: Uint8Array,
  secret: Pick<BaseOtSenderSecret, "s">,
  msg: BaseOtReceiverMsg,
  receiver: number,
): { k0: Uint8Array; k1: Uint8Array } {
  check(msg.inst.length === KAPPA, receiver, "base OT: wrong instance count");
  const hp = hkAll(T, msg.seed);
  const hs = hp.map(toAffine);
  const points: Point[] = [];
  const scalars: bigint[] = [];
  const vs: Point[] = [];
  let gCoef = 0n;
  const rho = () => bytesToBig(randomBytes(16));
  for (let k = 0; k < KAPPA; k++) {
    const it = msg.inst[k]!;
    const e = orChallenge(T, k, hs[k]!, it);
    const e1 = mod(e - it.e0);
    // z0·G + e0·v = A0;  z0·h + e0·u = B0;  z1·G + e1·(v − h) = A1;  z1·h + e1·u = B1,
    // combined with independent random 128-bit weights ρ1..ρ4 (the commitments keep the short
    // weights, negated on the point side, so the MSM treats them as 128-bit scalars).
    const [r1, r2, r3, r4] = [rho(), rho(), rho(), rho()];
    gCoef += r1 * it.z0 + r3 * it.z1;
    const v = fromAffine(it.v);
    vs.push(v);
    points.push(
      v,
      hp[k]!,
      fromAffine(it.u),
      fromAffine(it.A0).negate(),
      fromAffine(it.B0).negate(),
      fromAffine(it.A1).negate(),
      fromAffine(it.B1).negate(),
    );
    scalars.push(
      mod(r1 * it.e0 + r3 * e1),
      mod(r2 * it.z0 - r3 * e1 + r4 * it.z1),
      mod(r2 * it.e0 + r4 * e1),
      r1,
      r2,
      r3,
      r4,
    );
  }
  points.push(G);
  scalars.push(mod(gCoef));
  if (!msmPublic(points, scalars).is0())
    throw new ProtocolError("bad-message", "base OT: invalid OR-proof", [receiver]);
  const v1s = vs.map((v, k) => v.subtract(hp[k]!));
  check(
    v1s.every((P) => !P.is0()),
    receiver,
    "base OT: degenerate instance",
  );
  const k0 = new Uint8Array(KAPPA * 32);
  const k1 = new Uint8Array(KAPPA * 32);
  normalizeZ(Point, v1s).forEach((v1, k) => {
    k0.set(outKey(T, k, 0, ctMul(msg.inst[k]!.v, secret.s)), 32 * k);
    k1.set(outKey(T, k, 1, ctMul(toAffine(v1), secret.s)), 32 * k);
  });
  return { k0, k1 };
}

/** Length of the sender's encoded message: z, the PoK commitment and its response. */
export const SENDER_MSG_BYTES = 33 + 33 + 32;

/** Writes the sender's message. */
export function writeSenderMsg(w: Writer, m: BaseOtSenderMsg): void {
  w.fixed(pointToBytes(m.z)).fixed(pointToBytes(m.proof.K)).fixed(scalarToBytes(m.proof.z));
}

/** Reads and validates the sender's message (points on curve, canonical scalar). */
export function readSenderMsg(r: Reader, from: number): BaseOtSenderMsg {
  const z = decodePoint(r.fixed(33), from, "base OT z");
  const K = decodePoint(r.fixed(33), from, "base OT PoK commitment");
  const zr = decodeScalar(r.fixed(32), from, "base OT PoK response");
  return { z, proof: { K, z: zr } };
}

/** Writes the receiver's message. */
export function writeReceiverMsg(w: Writer, m: BaseOtReceiverMsg): void {
  w.fixed(m.seed);
  const buf = new Uint8Array(KAPPA * (6 * 33 + 3 * 32));
  let off = 0;
  for (const it of m.inst) {
    for (const P of [it.u, it.v, it.A0, it.B0, it.A1, it.B1]) {
      buf.set(compress(P), off);
      off += 33;
    }
    for (const s of [it.e0, it.z0, it.z1]) {
      scalarToBytes(s, buf, off);
      off += 32;
    }
  }
  w.fixed(buf);
}

/** Reads and validates the receiver's message: every point on the curve (libsecp256k1's parser). */
export function readReceiverMsg(r: Reader, from: number): BaseOtReceiverMsg {
  const seed = r.fixed(32);
  const inst: ReceiverInstance[] = [];
  for (let k = 0; k < KAPPA; k++) {
    const P = (what: string) => decompress(r.fixed(33), from, `base OT ${what}[${k}]`);
    const S = (what: string) => decodeScalar(r.fixed(32), from, `base OT ${what}[${k}]`);
    const u = P("u");
    const v = P("v");
    const A0 = P("A0");
    const B0 = P("B0");
    const A1 = P("A1");
    const B1 = P("B1");
    inst.push({ u, v, A0, B0, A1, B1, e0: S("e0"), z0: S("z0"), z1: S("z1") });
  }
  return { seed, inst };
}

/** Input of {@link baseOtReceiveJob}: one counterparty's pair, in plain data. */
export interface BaseOtReceiveInput {
  readonly T: Uint8Array;
  readonly delta: Uint8Array;
  /** The sender's message as it came on the wire (already validated once on receipt). */
  readonly senderMsg: Uint8Array;
  readonly sender: number;
}

/** {@link baseOtReceive} for one counterparty, as a job: returns the encoded reply and the keys. */
export const baseOtReceiveJob: Job<BaseOtReceiveInput, { msg: Uint8Array; keys: Uint8Array }> = Object.freeze(
  {
    name: "ecdsa-secp256k1/base-ot-receive",
    run: (i: BaseOtReceiveInput) => {
      const senderMsg = readSenderMsg(new Reader(i.senderMsg), i.sender);
      const { msg, keys } = baseOtReceive(i.T, i.delta, senderMsg, i.sender);
      const w = new Writer();
      writeReceiverMsg(w, msg);
      return { msg: w.finish(), keys };
    },
  },
);

/** Input of {@link baseOtSenderFinishJob}: one counterparty's pair, in plain data. */
export interface BaseOtSenderFinishInput {
  readonly T: Uint8Array;
  /** The sender's secret `s`. */
  readonly s: bigint;
  /** The receiver's message, validated on receipt (affine points and scalars). */
  readonly msg: BaseOtReceiverMsg;
  readonly receiver: number;
}

/** {@link baseOtSenderFinish} for one counterparty, as a job. */
export const baseOtSenderFinishJob: Job<BaseOtSenderFinishInput, { k0: Uint8Array; k1: Uint8Array }> =
  Object.freeze({
    name: "ecdsa-secp256k1/base-ot-sender-finish",
    run: (i: BaseOtSenderFinishInput) => baseOtSenderFinish(i.T, { s: i.s }, i.msg, i.receiver),
  });
