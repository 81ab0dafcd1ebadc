/**
 * KOS OT extension with the corrected packed consistency check and Fiat–Shamir challenges
 * (spec dkls23.md §4.5). Long-lived base-OT state is reused across sessions ("forced reuse"):
 * the OTE receiver (Bob) holds `(k^0_i, k^1_i)`, the OTE sender (Alice) holds Δ and `k^{Δ_i}_i`.
 *
 * Bob extends ℓ' = ξ + 128 = 640 columns with choice vector `x = β ‖ pad` and proves consistency
 * with `x̃ = Σ_c χ_c·x^{(c)} + x^{(5)}`, `t̃_i = Σ_c χ_c·T0_i^{(c)} + T0_i^{(5)}` over GF(2^128),
 * `χ_1..χ_4` taken from SHA-512 over all of U. Alice checks `q̃_i == t̃_i ⊕ Δ_i·x̃` for every row i
 * and, on failure, aborts with a `security` error (Δ is reused: the pair state must be banned).
 * @module
 */
import { frame, ProtocolError, type Reader, type Writer } from "@custody/core";
import { sha512 } from "@noble/hashes/sha2.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { CHECK_BLOCKS, KAPPA, ROW_BYTES, tag, XI } from "../params.js";
import { sha256Native } from "../sha256.js";
import { bit } from "./base-ot.js";
import { type Gf128, gfAddBytes, gfEqual, gfMulAcc, gfTable } from "./gf128.js";

/** Bob's round-1 OTE message: U (κ rows of 80 bytes), x̃ (16 bytes), t̃ (κ × 16 bytes). */
export interface KosMsg {
  readonly U: Uint8Array;
  readonly xTilde: Uint8Array;
  readonly tTilde: Uint8Array;
}

/** Encoded size of {@link KosMsg}. */
export const KOS_MSG_BYTES = KAPPA * ROW_BYTES + 16 + KAPPA * 16;

/** Bytes of one transposed column (κ bits). */
export const COL_BYTES = KAPPA / 8;

/**
 * `PRG(key, τ, i)`: 80 bytes, SHA-256 in counter mode over `key ‖ τ ‖ u32(i) ‖ u8(ctr)`
 * (node's native SHA-256: same output as the pure-JS hasher, much cheaper per call).
 */
export function prgInto(key: Uint8Array, tau: Uint8Array, i: number, out: Uint8Array, off: number): void {
  const buf = new Uint8Array(key.length + tau.length + 5);
  buf.set(key);
  buf.set(tau, key.length);
  const o = key.length + tau.length;
  new DataView(buf.buffer).setUint32(o, i);
  for (let ctr = 0; ctr < 3; ctr++) {
    buf[o + 4] = ctr;
    const d = sha256Native(buf);
    const n = Math.min(32, ROW_BYTES - 32 * ctr);
    out.set(d.subarray(0, n), off + 32 * ctr);
  }
}

/** The consistency check's challenges χ: bound to Bob's τ and his whole matrix U (Fiat–Shamir). */
export function challenges(tauB: Uint8Array, U: Uint8Array): Uint32Array[] {
  const d = sha512(frame(tag("ot/ext/chi"), [tauB, U]));
  return Array.from({ length: CHECK_BLOCKS }, (_, c) => gfTable(gfFromSlice(d, 16 * c)));
}

function gfFromSlice(b: Uint8Array, off: number): Gf128 {
  const acc = new Uint32Array(4);
  gfAddBytes(acc, b, off);
  return acc;
}

/** `Σ_c χ_c·row^{(c)} + row^{(m+1)}` for the 80-byte row at `off`. */
function packedCheck(tables: Uint32Array[], row: Uint8Array, off: number): Gf128 {
  const acc = new Uint32Array(4);
  for (let c = 0; c < CHECK_BLOCKS; c++) gfMulAcc(acc, tables[c]!, row, off + 16 * c);
  gfAddBytes(acc, row, off + 16 * CHECK_BLOCKS);
  return acc;
}

/** Transposes the first ξ columns of κ rows (each ROW_BYTES long) into ξ columns of κ bits. */
function transpose(rows: Uint8Array): Uint8Array {
  const cols = new Uint8Array(XI * COL_BYTES);
  for (let i = 0; i < KAPPA; i++) {
    const rowOff = i * ROW_BYTES;
    const dst = i >> 3;
    const sh = i & 7;
    for (let byte = 0; byte < XI / 8; byte++) {
      const v = rows[rowOff + byte]!;
      const colBase = byte * 8 * COL_BYTES + dst;
      for (let b = 0; b < 8; b++) cols[colBase + b * COL_BYTES]! |= ((v >>> b) & 1) << sh;
    }
  }
  return cols;
}

/**
 * Bob (OTE receiver), round 1: random `β ∈ {0,1}^ξ`, extension and consistency proof.
 * @returns the message, β (ξ bits packed) and Bob's columns `t_j` (ξ × 32 bytes)
 */
export function kosReceive(
  k0: Uint8Array,
  k1: Uint8Array,
  tauB: Uint8Array,
): { msg: KosMsg; beta: Uint8Array; t: Uint8Array } {
  const x = randomBytes(ROW_BYTES);
  const T0 = new Uint8Array(KAPPA * ROW_BYTES);
  const U = new Uint8Array(KAPPA * ROW_BYTES);
  for (let i = 0; i < KAPPA; i++) {
    prgInto(k0.subarray(32 * i, 32 * i + 32), tauB, i, T0, i * ROW_BYTES);
    prgInto(k1.subarray(32 * i, 32 * i + 32), tauB, i, U, i * ROW_BYTES);
    for (let j = 0; j < ROW_BYTES; j++) U[i * ROW_BYTES + j]! ^= T0[i * ROW_BYTES + j]! ^ x[j]!;
  }
  const tables = challenges(tauB, U);
  const xTilde = gfBytes(packedCheck(tables, x, 0));
  const tTilde = new Uint8Array(KAPPA * 16);
  for (let i = 0; i < KAPPA; i++) tTilde.set(gfBytes(packedCheck(tables, T0, i * ROW_BYTES)), 16 * i);
  return { msg: { U, xTilde, tTilde }, beta: x.slice(0, XI / 8), t: transpose(T0) };
}

function gfBytes(a: Gf128): Uint8Array {
  const out = new Uint8Array(16);
  for (let w = 0; w < 4; w++) new DataView(out.buffer).setUint32(4 * w, a[w]!, true);
  return out;
}

/**
 * Alice (OTE sender), round 2: derives `Q_i = T0_i ⊕ Δ_i·x`, runs the consistency check on every
 * row (one decision at the end) and returns her columns `q_j = t_j ⊕ β_j·Δ` (ξ × 32 bytes).
 * @throws ProtocolError `security` blaming `from` when the check fails.
 */
export function kosSend(
  delta: Uint8Array,
  kDelta: Uint8Array,
  tauB: Uint8Array,
  msg: KosMsg,
  from: number,
): Uint8Array {
  const Q = new Uint8Array(KAPPA * ROW_BYTES);
  for (let i = 0; i < KAPPA; i++) {
    prgInto(kDelta.subarray(32 * i, 32 * i + 32), tauB, i, Q, i * ROW_BYTES);
    const m = -bit(delta, i) & 0xff;
    for (let j = 0; j < ROW_BYTES; j++) Q[i * ROW_BYTES + j]! ^= msg.U[i * ROW_BYTES + j]! & m;
  }
  const tables = challenges(tauB, msg.U);
  let ok = true;
  for (let i = 0; i < KAPPA; i++) {
    const want = new Uint32Array(4);
    gfAddBytes(want, msg.tTilde, 16 * i);
    const m = -bit(delta, i) >>> 0;
    const xt = gfFromSlice(msg.xTilde, 0);
    for (let w = 0; w < 4; w++) want[w] = (want[w]! ^ (xt[w]! & m)) >>> 0;
    ok = gfEqual(packedCheck(tables, Q, i * ROW_BYTES), want) && ok;
  }
  if (!ok) throw new ProtocolError("security", "OT extension consistency check failed", [from]);
  return transpose(Q);
}

/** Writes Bob's message. */
export function writeKosMsg(w: Writer, m: KosMsg): void {
  w.fixed(m.U).fixed(m.xTilde).fixed(m.tTilde);
}

/** Reads Bob's message (fixed dimensions). */
export function readKosMsg(r: Reader): KosMsg {
  return { U: r.fixed(KAPPA * ROW_BYTES), xTilde: r.fixed(16), tTilde: r.fixed(KAPPA * 16) };
}
