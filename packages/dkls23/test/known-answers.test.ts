/**
 * Known answers for the hash constructions that every party computes alike, so no protocol run
 * can tell a wrong one: the DKG/refresh session id and pair binding, the base-OT pair context, the
 * Schnorr proof challenge, the gadget vector, the random-OT output hash, the VOLE check challenges
 * θ, the signing session id, the zero-share session id and the per-pair signing binding. Each is recomputed here from its definition (spec dkls23.md §2, §4.6, §5.0)
 * with node:crypto; dropping an input would make values repeat across pairs or sessions.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { ProtocolError } from "@custody/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { G, mod as modN, pointToBytes, randomScalar } from "../src/group.js";
import { pairBinding as dkgPairBinding, makeContext } from "../src/keygen/context.js";
import { baseOtContext } from "../src/ot/base-ot.js";
import { COL_BYTES } from "../src/ot/kos.js";
import { XI } from "../src/params.js";
import { makeSignContext, pairBinding } from "../src/sign/context.js";
import { gadget, randomizer, thetas } from "../src/vole.js";
import { verifyDlog } from "../src/zk/schnorr.js";
import { dealShares } from "./dealer.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const TAG = "custody/dkls23/v1/";

type Part = Uint8Array | number | string;
/** `u32be(len) || bytes` for the tag and each part; integers as u64 big-endian, strings as UTF-8. */
const frame = (name: string, parts: Part[]) =>
  Buffer.concat(
    [Buffer.from(TAG + name), ...parts].flatMap((p) => {
      let bytes: Buffer;
      if (typeof p === "number") {
        bytes = Buffer.alloc(8);
        bytes.writeBigUInt64BE(BigInt(p));
      } else bytes = typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return [len, bytes];
    }),
  );
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString("hex")}`);
const H = (name: string, parts: Part[]) =>
  new Uint8Array(createHash("sha256").update(frame(name, parts)).digest());
const HS = (name: string, parts: Part[]) => big(createHash("sha512").update(frame(name, parts)).digest()) % N;
const mod = (a: bigint) => ((a % N) + N) % N;
const inv = (a: bigint) => {
  let [r, x, e] = [1n, mod(a), N - 2n];
  for (; e > 0n; e >>= 1n, x = (x * x) % N) if (e & 1n) r = (r * x) % N;
  return r;
};
const flipped = (b: Uint8Array, at = 0) => {
  const c = Uint8Array.from(b);
  c[at]! ^= 1;
  return c;
};

test("the gadget vector is g_j = HS(vole/gadget; pairId, j) for every j < ξ, and differs per pair", () => {
  const pairId = randomBytes(32);
  const g = gadget(pairId);
  assert.equal(g.length, XI);
  for (const j of [0, 1, 77, XI - 1]) assert.equal(g[j], HS("vole/gadget", [pairId, j]), `g_${j}`);
  assert.notEqual(gadget(flipped(pairId))[0], g[0]);
});

test("the random-OT hash is SHA-256(H(ot/ext/rand; τ_AB) ‖ 0^32 ‖ u32(j) ‖ u8(c) ‖ col) mod n", () => {
  const tauAB = randomBytes(32);
  const col = randomBytes(COL_BYTES);
  const j = 0x0102_0304;
  const c = 2;
  const head = Buffer.alloc(64);
  Buffer.from(H("ot/ext/rand", [tauAB])).copy(head);
  const index = Buffer.alloc(5);
  index.writeUInt32BE(j);
  index[4] = c;
  const want = big(createHash("sha256").update(head).update(index).update(col).digest()) % N;
  const R = randomizer(tauAB);
  assert.equal(R(j, c, col), want);
  assert.notEqual(R(j, c, flipped(col)), want, "depends on the column");
  assert.notEqual(R(j + 1, c, col), want, "depends on the row");
  assert.notEqual(R(j, c - 1, col), want, "depends on the OT slot");
  assert.notEqual(randomizer(flipped(tauAB))(j, c, col), want, "depends on the pair's session");
});

test("the VOLE challenges are θ_c = HS(vole/theta; H(vole/atilde; τ_AB, ã), c) and bind τ_AB and all of ã", () => {
  const tauAB = randomBytes(32);
  const aTilde = randomBytes(XI * 3 * 32);
  const d = H("vole/atilde", [tauAB, aTilde]);
  const want = [HS("vole/theta", [d, 1]), HS("vole/theta", [d, 2])];
  assert.deepEqual(thetas(tauAB, aTilde), want);
  assert.notDeepEqual(thetas(tauAB, flipped(aTilde, aTilde.length - 1)), want);
  assert.notDeepEqual(thetas(flipped(tauAB), aTilde), want);
});

test("the signing session id, the zero-share session id and the pair binding are the framed hashes of every input", () => {
  const shares = dealShares(2, 3);
  const share = shares.get(1)!;
  const sessionId = randomBytes(32);
  const message = sha256(utf8ToBytes("known answer"));
  const index = 7;
  const ctx = makeSignContext({ share, sessionId, self: 1, signers: [2, 1], message, path: [index] });

  // BIP32 non-hardened CKDpub, from its definition.
  const data = Buffer.alloc(37);
  Buffer.from(share.publicKey).copy(data);
  data.writeUInt32BE(index, 33);
  const I = createHmac("sha512", share.chainCode).update(data).digest();
  const tweak = big(I.subarray(0, 32)) % N;
  const childChainCode = new Uint8Array(I.subarray(32));
  const pathBytes = new Uint8Array(4);
  new DataView(pathBytes.buffer).setUint32(0, index);
  const sid = H("sign/sid", [
    sessionId,
    share.transcript,
    share.epoch,
    share.publicKey,
    share.chainCode,
    share.threshold,
    Uint8Array.from(share.parties),
    Uint8Array.of(1, 2),
    message,
    pathBytes,
    ctx.publicKey,
    childChainCode,
  ]);
  assert.deepEqual(ctx.sid, sid);

  // sk_1 = λ_1·(x_1 + τ) + ζ_1 with λ_1 = 2/(2−1) and ζ_1 = −HS(zero; H(sign/zsid; sid), seed_12).
  const zsid = H("sign/zsid", [sid]);
  const zeta = mod(-HS("zero", [zsid, share.pairs.get(2)!.seed]));
  const lambda = mod(2n * inv(2n - 1n));
  assert.equal(ctx.sk, mod(lambda * (share.secret + tweak) + zeta));

  assert.deepEqual(pairBinding(ctx, 1, 2), H("sign/bind", [sid, 1, 2]));
  assert.notDeepEqual(pairBinding(ctx, 2, 1), pairBinding(ctx, 1, 2), "the binding is directional");
});

test("the DKG and refresh session id and pair binding are the framed hashes of every input", () => {
  const sessionId = randomBytes(32);
  const ctx = makeContext(sessionId, 2, [3, 1, 2], 2, { kind: "keygen" });
  assert.deepEqual(ctx.sid, H("dkg/sid", [sessionId, 2, Uint8Array.of(1, 2, 3), "keygen"]));
  assert.deepEqual(dkgPairBinding(ctx, 2, 3), H("dkg/bind", [ctx.sid, 2, 3]));
  const share = dealShares(2, 3).get(2)!;
  const refresh = makeContext(sessionId, 2, [1, 2, 3], 2, { kind: "refresh", share });
  assert.deepEqual(
    refresh.sid,
    H("dkg/sid", [
      sessionId,
      2,
      Uint8Array.of(1, 2, 3),
      "refresh",
      share.transcript,
      share.publicKey,
      share.chainCode,
      share.epoch,
    ]),
  );
});

test("DKG parameters: a session id of another length, or a party outside the set, is bad input", () => {
  const bad = (f: () => unknown) =>
    assert.throws(f, (e: unknown) => e instanceof ProtocolError && e.kind === "bad-input");
  bad(() => makeContext(randomBytes(31), 1, [1, 2], 2, { kind: "keygen" }));
  bad(() => makeContext(randomBytes(33), 1, [1, 2], 2, { kind: "keygen" }));
  bad(() => makeContext(randomBytes(32), 3, [1, 2], 2, { kind: "keygen" }));
});

test("the base-OT context of an ordered pair is H(ot/base/ctx; sid, sender, receiver)", () => {
  const sid = randomBytes(32);
  assert.deepEqual(baseOtContext(sid, 1, 2), H("ot/base/ctx", [sid, 1, 2]));
  assert.notDeepEqual(baseOtContext(sid, 2, 1), baseOtContext(sid, 1, 2), "ordered");
});

test("a Schnorr proof verifies exactly when its challenge is HS(pok; context, X, K)", () => {
  const ctx = [randomBytes(32), 3, "dkg/pok"] as const;
  const x = randomScalar();
  const X = G.multiply(x);
  const prove = (tag: string) => {
    const k = randomScalar();
    const K = G.multiply(k);
    const e = HS(tag, [...ctx, pointToBytes(X), pointToBytes(K)]);
    return { K, z: modN(k + e * x) };
  };
  assert.equal(verifyDlog([...ctx], X, prove("pok")), true);
  assert.equal(verifyDlog([...ctx], X, prove("pok/other")), false, "the challenge carries its tag");
  assert.equal(verifyDlog([ctx[0], 4, ctx[2]], X, prove("pok")), false, "and the prover's context");
});
