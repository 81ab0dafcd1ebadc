/**
 * Two-party random VOLE from OT extension (spec dkls23.md §4.6, paper Protocol 5.2) with OT width
 * 3: Alice (sender) inputs `a = (a_1, a_2)`, Bob (receiver) gets a random `b = Σ_j β_j·g_j`;
 * outputs satisfy `c_i + d_i = a_i·b`. The check challenges θ are hashed from Alice's whole ã
 * matrix (fixing finding F2); Bob verifies μ and aborts with a `security` error on mismatch.
 * @module
 */
import { ProtocolError, type Reader, type Writer } from "@custody/core";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ctEqual, decodeScalar, mod, N, randomScalar, scalarToBytes } from "./group.js";
import { H, HS } from "./hash.js";
import { bit } from "./ot/base-ot.js";
import { COL_BYTES, type KosMsg, kosReceive, kosSend } from "./ot/kos.js";
import { OT_WIDTH, XI } from "./params.js";
import { sha256Hex } from "./sha256.js";

/** Alice's round-2 VOLE message: ã (ξ × 3 scalars), η and μ. */
export interface VoleMsg {
  readonly aTilde: Uint8Array;
  readonly eta: bigint;
  readonly mu: Uint8Array;
}

/** Encoded size of {@link VoleMsg}. */
export const VOLE_MSG_BYTES = XI * OT_WIDTH * 32 + 32 + 32;

const gadgetCache = new Map<string, readonly bigint[]>();

/**
 * The public gadget vector `g_j = HS(vole/gadget; pairId, j)`, j ∈ [ξ], cached per pair id.
 * @param pairId identifies the ordered pair and its OT setup (both sides compute the same value)
 */
export function gadget(pairId: Uint8Array): readonly bigint[] {
  const key = bytesToHex(pairId);
  let g = gadgetCache.get(key);
  if (!g) {
    g = Array.from({ length: XI }, (_, j) => HS("vole/gadget", [pairId, j]));
    if (gadgetCache.size >= 256) gadgetCache.clear();
    gadgetCache.set(key, g);
  }
  return g;
}

/**
 * Random-OT output hash `HS32(ot/ext/rand; τ_AB, j, c, col)`: SHA-256 over a 64-byte block
 * `H(ot/ext/rand; τ_AB) ‖ 0^32`, then `u32(j) ‖ u8(c) ‖ col`, reduced mod n (bias ≈ 2^-128).
 * Thousands of these per pair and session: node's native one-shot SHA-256 with a hex digest
 * parsed by `BigInt` is about 3x as fast as the pure-JS hasher plus byte conversion (same output).
 */
export function randomizer(tauAB: Uint8Array): (j: number, c: number, col: Uint8Array) => bigint {
  const buf = new Uint8Array(64 + 5 + COL_BYTES);
  buf.set(H("ot/ext/rand", [tauAB]));
  const dv = new DataView(buf.buffer);
  return (j, c, col) => {
    dv.setUint32(64, j);
    buf[68] = c;
    buf.set(col, 69);
    return BigInt(`0x${sha256Hex(buf)}`) % N;
  };
}

/**
 * The check challenges `θ_c = HS(vole/theta; H(vole/atilde; τ_AB, ã), c)`, c ∈ {1, 2}: they depend
 * on the pair's OT-extension session and on Alice's whole ã, so she fixes ã before learning them.
 */
export function thetas(tauAB: Uint8Array, aTilde: Uint8Array): [bigint, bigint] {
  const d = H("vole/atilde", [tauAB, aTilde]);
  return [HS("vole/theta", [d, 1]), HS("vole/theta", [d, 2])];
}

/** Bob's state between round 1 and the finish. */
export interface VoleReceiverState {
  readonly beta: Uint8Array;
  readonly t: Uint8Array;
  /** Bob's random VOLE input `b = Σ_j β_j·g_j`. */
  readonly b: bigint;
}

/** Bob, round 1: OT extension with random β; returns the OTE message and his state. */
export function voleReceive(
  k0: Uint8Array,
  k1: Uint8Array,
  tauB: Uint8Array,
  g: readonly bigint[],
): { msg: KosMsg; state: VoleReceiverState } {
  const { msg, beta, t } = kosReceive(k0, k1, tauB);
  let b = 0n;
  for (let j = 0; j < XI; j++) b += BigInt(bit(beta, j)) * g[j]!;
  return { msg, state: { beta, t, b: mod(b) } };
}

/**
 * Alice, round 2: checks Bob's OTE message, then builds ã, η, μ for inputs `(a1, a2)`.
 * @returns her outputs `c1, c2` and the message for Bob
 * @throws ProtocolError `security` blaming `from` when the OTE check fails.
 */
export function voleSend(
  delta: Uint8Array,
  kDelta: Uint8Array,
  tauB: Uint8Array,
  tauAB: Uint8Array,
  g: readonly bigint[],
  a1: bigint,
  a2: bigint,
  ote: KosMsg,
  from: number,
): { c1: bigint; c2: bigint; msg: VoleMsg } {
  const q = kosSend(delta, kDelta, tauB, ote, from);
  const R = randomizer(tauAB);
  const etaHat = randomScalar();
  const inputs = [a1, a2, etaHat];
  const aTilde = new Uint8Array(XI * OT_WIDTH * 32);
  const alpha0 = new Array<bigint>(XI * OT_WIDTH);
  const qd = new Uint8Array(COL_BYTES);
  let c1 = 0n;
  let c2 = 0n;
  for (let j = 0; j < XI; j++) {
    const qj = q.subarray(j * COL_BYTES, (j + 1) * COL_BYTES);
    for (let k = 0; k < COL_BYTES; k++) qd[k] = qj[k]! ^ delta[k]!;
    for (let c = 0; c < OT_WIDTH; c++) {
      const x0 = R(j, c, qj);
      const x1 = R(j, c, qd);
      alpha0[j * OT_WIDTH + c] = x0;
      scalarToBytes(mod(x0 - x1 + inputs[c]!), aTilde, (j * OT_WIDTH + c) * 32);
    }
    c1 += g[j]! * alpha0[j * OT_WIDTH]!;
    c2 += g[j]! * alpha0[j * OT_WIDTH + 1]!;
  }
  const [t1, t2] = thetas(tauAB, aTilde);
  const eta = mod(etaHat + t1 * a1 + t2 * a2);
  const muIn = new Uint8Array(XI * 32);
  for (let j = 0; j < XI; j++) {
    const o = j * OT_WIDTH;
    scalarToBytes(mod(alpha0[o + 2]! + t1 * alpha0[o]! + t2 * alpha0[o + 1]!), muIn, 32 * j);
  }
  const mu = H("vole/mu", [tauAB, muIn]);
  return { c1: mod(-c1), c2: mod(-c2), msg: { aTilde, eta, mu } };
}

/**
 * Bob, finish: recomputes θ from ã, checks μ and derives `d1, d2`.
 * @throws ProtocolError `bad-message` for non-canonical scalars, `security` when μ fails.
 */
export function voleReceiveFinish(
  state: VoleReceiverState,
  tauAB: Uint8Array,
  g: readonly bigint[],
  msg: VoleMsg,
  from: number,
): { d1: bigint; d2: bigint } {
  const R = randomizer(tauAB);
  const [t1, t2] = thetas(tauAB, msg.aTilde);
  const muIn = new Uint8Array(XI * 32);
  let d1 = 0n;
  let d2 = 0n;
  for (let j = 0; j < XI; j++) {
    const tj = state.t.subarray(j * COL_BYTES, (j + 1) * COL_BYTES);
    const bj = BigInt(bit(state.beta, j));
    const dbar: bigint[] = [];
    for (let c = 0; c < OT_WIDTH; c++) {
      const o = (j * OT_WIDTH + c) * 32;
      const at = decodeScalar(msg.aTilde.subarray(o, o + 32), from, "VOLE ã entry");
      dbar.push(R(j, c, tj) + bj * at);
    }
    scalarToBytes(mod(dbar[2]! + t1 * dbar[0]! + t2 * dbar[1]! - bj * msg.eta), muIn, 32 * j);
    d1 += g[j]! * dbar[0]!;
    d2 += g[j]! * dbar[1]!;
  }
  if (!ctEqual(H("vole/mu", [tauAB, muIn]), msg.mu))
    throw new ProtocolError("security", "VOLE consistency check (μ) failed", [from]);
  return { d1: mod(d1), d2: mod(d2) };
}

/** Writes Alice's message. */
export function writeVoleMsg(w: Writer, m: VoleMsg): void {
  w.fixed(m.aTilde).fixed(scalarToBytes(m.eta)).fixed(m.mu);
}

/** Reads Alice's message; η must be canonical (ã entries are checked by the finish). */
export function readVoleMsg(r: Reader, from: number): VoleMsg {
  const aTilde = r.fixed(XI * OT_WIDTH * 32);
  const eta = decodeScalar(r.fixed(32), from, "VOLE η");
  return { aTilde, eta, mu: r.fixed(32) };
}
