/**
 * Multi-scalar multiplication `Σ k_i·P_i` for **public** points and scalars only (variable time:
 * bucket indices and skipped zero digits depend on the scalars). Bucket method (Pippenger) whose
 * windows above a scalar's bit length are skipped for that point, so the 128-bit weights of a
 * random-linear-combination batch check cost half as much as full-size scalars.
 * @module
 */
import { Point } from "./group.js";

function bitLength(s: bigint): number {
  return s === 0n ? 0 : s.toString(2).length;
}

/** `Σ scalars[i]·points[i]`; scalars must be non-negative. Public inputs only. */
export function msmPublic(points: readonly Point[], scalars: readonly bigint[]): Point {
  if (points.length !== scalars.length) throw new RangeError("msm: length mismatch");
  const n = points.length;
  if (n === 0) return Point.ZERO;
  const c = n >= 512 ? 8 : n >= 64 ? 6 : 4;
  const mask = BigInt((1 << c) - 1);
  // Points sorted by scalar length (longest first): window w touches only a prefix.
  const order = Array.from({ length: n }, (_, i) => i);
  const bits = scalars.map((s) => {
    if (s < 0n) throw new RangeError("msm: negative scalar");
    return bitLength(s);
  });
  order.sort((a, b) => bits[b]! - bits[a]!);
  const windows = Math.ceil(bits[order[0]!]! / c);
  let sum: Point | undefined;
  const buckets: (Point | undefined)[] = new Array(1 << c);
  for (let w = windows - 1; w >= 0; w--) {
    if (sum) for (let d = 0; d < c; d++) sum = sum.double();
    buckets.fill(undefined);
    const shift = BigInt(w * c);
    const lowBit = w * c;
    for (const i of order) {
      if (bits[i]! <= lowBit) break;
      const digit = Number((scalars[i]! >> shift) & mask);
      if (digit === 0) continue;
      const b = buckets[digit];
      buckets[digit] = b ? b.add(points[i]!) : points[i]!;
    }
    let run: Point | undefined;
    let tot: Point | undefined;
    for (let j = buckets.length - 1; j > 0; j--) {
      const b = buckets[j];
      if (b) run = run ? run.add(b) : b;
      if (run) tot = tot ? tot.add(run) : run;
    }
    if (tot) sum = sum ? sum.add(tot) : tot;
  }
  return sum ?? Point.ZERO;
}
