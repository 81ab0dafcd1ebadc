/**
 * Known answers for the two hash constructions of the OT extension that both parties compute
 * alike (so no protocol run can tell a wrong one): the PRG that expands base-OT seeds, and the
 * Fiat–Shamir challenges of the consistency check, which must depend on Bob's τ and his whole U.
 * Both are recomputed here from their definitions with node:crypto.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { gfAddBytes, gfTable } from "../src/ot/gf128.js";
import { challenges, prgInto } from "../src/ot/kos.js";
import { CHECK_BLOCKS, KAPPA, ROW_BYTES } from "../src/params.js";

const sha = (alg: string, ...parts: Uint8Array[]) => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
/** `u32be(len) || bytes` for the domain and each part. */
const frame = (domain: string, parts: Uint8Array[]) =>
  Buffer.concat(
    [Buffer.from(domain), ...parts].flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      return [len, Buffer.from(p)];
    }),
  );

test("PRG(key, τ, i): SHA-256 in counter mode over key ‖ τ ‖ u32(i) ‖ u8(ctr), first 80 bytes, at the offset", () => {
  const key = randomBytes(32);
  const tau = randomBytes(32);
  const i = 0x01020304;
  const index = Buffer.alloc(4);
  index.writeUInt32BE(i);
  const want = Buffer.concat(
    [0, 1, 2].map((ctr) => sha("sha256", key, tau, index, Uint8Array.of(ctr))),
  ).subarray(0, ROW_BYTES);
  const out = new Uint8Array(ROW_BYTES + 10);
  prgInto(key, tau, i, out, 5);
  assert.deepEqual(out.subarray(5, 5 + ROW_BYTES), new Uint8Array(want));
  assert.deepEqual(out.subarray(0, 5), new Uint8Array(5), "nothing written before the offset");
  assert.deepEqual(out.subarray(5 + ROW_BYTES), new Uint8Array(5), "nothing written after the row");
});

test("the challenges χ are SHA-512 of the framed (τ, U) under their tag, and change with τ and with U", () => {
  const tau = randomBytes(32);
  const U = randomBytes(KAPPA * ROW_BYTES);
  const d = sha("sha512", frame("custody/dkls23/v1/ot/ext/chi", [tau, U]));
  const want = Array.from({ length: CHECK_BLOCKS }, (_, c) => {
    const acc = new Uint32Array(4);
    gfAddBytes(acc, d, 16 * c);
    return gfTable(acc);
  });
  assert.deepEqual(challenges(tau, U), want);
  const otherU = Uint8Array.from(U);
  otherU[otherU.length - 1]! ^= 1;
  assert.notDeepEqual(challenges(tau, otherU), want);
  const otherTau = Uint8Array.from(tau);
  otherTau[0]! ^= 1;
  assert.notDeepEqual(challenges(otherTau, U), want);
});
