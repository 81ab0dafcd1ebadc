/** Tamper helpers shared by the malicious-party tests. */
import assert from "node:assert/strict";
import type { ProtocolMessage, Tamper } from "@custody/core";
import { ProtocolError } from "@custody/core";

export type Edit = (p: Uint8Array) => Uint8Array;
export const flip =
  (off: number): Edit =>
  (p) => {
    const q = p.slice();
    q[off]! ^= 0x01;
    return q;
  };
export const put =
  (off: number, bytes: Uint8Array): Edit =>
  (p) => {
    const q = p.slice();
    q.set(bytes, off);
    return q;
  };
export const truncate: Edit = (p) => p.slice(0, p.length - 1);
export const extend: Edit = (p) => Uint8Array.from([...p, 0]);
/** An x-coordinate with no curve point (x = 5 has no square root of x^3 + 7 mod p). */
export const OFF_CURVE = Uint8Array.from([2, ...new Uint8Array(31), 5]);
export const N_BYTES = Uint8Array.from(
  Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex"),
);

export function tamperOnce(round: number, from: number, to: number, edit: Edit, broadcast = false): Tamper {
  return (m: ProtocolMessage, dest) => {
    if (m.round === round && m.from === from && dest === to && (m.to === "all") === broadcast)
      return { ...m, payload: edit(m.payload) };
    return m;
  };
}

export function expectAbort(
  run: { errors: Map<number, unknown> },
  victim: number,
  kind: string,
  culprit: number,
  label: string,
) {
  const e = run.errors.get(victim);
  assert.ok(e instanceof ProtocolError, `${label}: victim did not abort (${String(e)})`);
  assert.equal(e.kind, kind, `${label}: ${e.message}`);
  assert.deepEqual([...e.culprits], [culprit], `${label}: ${e.message}`);
}
