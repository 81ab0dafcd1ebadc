/**
 * Session-input binding (round 1 of signing, DKG and refresh): parties that run the same session
 * id with different inputs abort with `mismatch` and blame nobody. Without the comparison, signing
 * would fail the OT-extension check (`security`, honest peer blamed, pair locked) and the DKG the
 * base-OT PoK (`bad-message`, honest peer blamed). Shares come from the test dealer: no DKG here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type LocalRun,
  type LocalRunOptions,
  ProtocolError,
  runLocal,
  type SignatureOutput,
} from "@custody/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { ecdsaScheme } from "../src/index.js";
import { EcdsaShare } from "../src/share.js";
import { dealShares } from "./dealer.js";
import { flip, tamperOnce } from "./tamper.js";

const shares = dealShares(2, 3);
const digest = sha256(utf8ToBytes("binding"));

interface View {
  signers: number[];
  message?: Uint8Array;
  path?: number[];
  sessionId?: Uint8Array;
  share?: EcdsaShare;
}

/** Runs signing where each listed party uses its own view of the session inputs. */
function signWith(views: Record<number, View>, opts: LocalRunOptions = {}) {
  const sessionId = randomBytes(32);
  return runLocal<SignatureOutput>(
    new Map(
      Object.entries(views).map(([p, v]) => [
        Number(p),
        () =>
          ecdsaScheme.sign({
            sessionId: v.sessionId ?? sessionId,
            self: Number(p),
            share: v.share ?? shares.get(Number(p))!,
            signers: v.signers,
            message: v.message ?? digest,
            path: v.path,
          }),
      ]),
    ),
    opts,
  );
}

/** Every listed party aborted with `mismatch` and no culprits; nobody reported `security`. */
function expectMismatch(run: LocalRun<unknown>, parties: number[], label: string) {
  for (const e of run.errors.values())
    assert.ok(!(e instanceof ProtocolError && e.kind === "security"), `${label}: ${String(e)}`);
  for (const p of parties) {
    const e = run.errors.get(p);
    assert.ok(e instanceof ProtocolError, `${label}: party ${p} did not abort (${String(e)})`);
    assert.equal(e.kind, "mismatch", `${label}: party ${p}: ${e.message}`);
    assert.deepEqual([...e.culprits], [], `${label}: party ${p}: ${e.message}`);
  }
  assert.equal(run.results.size, 0, label);
}

test("sign with dealt shares: the same inputs give a valid signature", () => {
  const run = signWith({ 1: { signers: [1, 3] }, 3: { signers: [1, 3] } });
  assert.equal(run.errors.size, 0, String([...run.errors.values()]));
  assert.equal(run.results.size, 2);
});

test("sign: different digests → mismatch at both signers, nobody blamed", () => {
  const run = signWith({ 1: { signers: [1, 2] }, 2: { signers: [1, 2], message: sha256(digest) } });
  expectMismatch(run, [1, 2], "digest");
});

test("sign: different signer-set views → mismatch, nobody blamed", () => {
  // Party 2 also expects party 3 (which does not run); 1 and 2 still see each other's round 1.
  const run = signWith({ 1: { signers: [1, 2] }, 2: { signers: [1, 2, 3] } });
  expectMismatch(run, [1, 2], "signer set");
});

test("sign: different derivation paths → mismatch, nobody blamed", () => {
  const run = signWith({ 2: { signers: [2, 3], path: [0, 1] }, 3: { signers: [2, 3], path: [0, 2] } });
  expectMismatch(run, [2, 3], "path");
  const none = signWith({ 2: { signers: [2, 3], path: [] }, 3: { signers: [2, 3], path: [0] } });
  expectMismatch(none, [2, 3], "no path vs path");
});

test("sign: different session ids → mismatch, nobody blamed", () => {
  const run = signWith({ 1: { signers: [1, 3] }, 3: { signers: [1, 3], sessionId: randomBytes(32) } });
  expectMismatch(run, [1, 3], "session id");
});

test("sign: a share of another epoch → mismatch, nobody blamed", () => {
  const other = new EcdsaShare({ ...shares.get(2)!, epoch: 1 });
  const run = signWith({ 1: { signers: [1, 2] }, 2: { signers: [1, 2], share: other } });
  expectMismatch(run, [1, 2], "epoch");
});

test("sign: a flipped binding byte → mismatch at the receiver, nobody blamed", () => {
  const run = signWith(
    { 1: { signers: [1, 2] }, 2: { signers: [1, 2] } },
    { tamper: tamperOnce(1, 2, 1, flip(7)) },
  );
  expectMismatch(run, [1], "flipped binding");
});

/** Runs round 1 (and, were the binding unchecked, the start of round 2) of a DKG with per-party views. */
function keygenWith(views: Record<number, { parties: number[]; threshold: number; sessionId?: Uint8Array }>) {
  const sessionId = randomBytes(32);
  return runLocal(
    new Map(
      Object.entries(views).map(([p, v]) => [
        Number(p),
        () =>
          ecdsaScheme.keygen({
            sessionId: v.sessionId ?? sessionId,
            self: Number(p),
            parties: v.parties,
            threshold: v.threshold,
          }),
      ]),
    ),
  );
}

test("DKG: different party sets or thresholds → mismatch at every party, nobody blamed", () => {
  const run = keygenWith({ 1: { parties: [1, 2], threshold: 2 }, 2: { parties: [1, 2, 3], threshold: 2 } });
  expectMismatch(run, [1, 2], "DKG party set");
  const t = keygenWith({
    1: { parties: [1, 2, 3], threshold: 2 },
    2: { parties: [1, 2, 3], threshold: 3 },
    3: { parties: [1, 2, 3], threshold: 3 },
  });
  // Party 1 disagrees with both others; 2 and 3 agree with each other but not with 1.
  expectMismatch(t, [1, 2, 3], "DKG threshold");
});

test("DKG: different session ids → mismatch, nobody blamed", () => {
  const run = keygenWith({
    1: { parties: [1, 2], threshold: 2 },
    2: { parties: [1, 2], threshold: 2, sessionId: randomBytes(32) },
  });
  expectMismatch(run, [1, 2], "DKG session id");
});

test("refresh: a share of another epoch → mismatch, nobody blamed", () => {
  const two = dealShares(2, 2);
  const sessionId = randomBytes(32);
  const other = new EcdsaShare({ ...two.get(2)!, epoch: 3 });
  const run = runLocal(
    new Map([
      [1, () => ecdsaScheme.refresh({ sessionId, self: 1, share: two.get(1)! })],
      [2, () => ecdsaScheme.refresh({ sessionId, self: 2, share: other })],
    ]),
  );
  expectMismatch(run, [1, 2], "refresh epoch");
});

test("sign refuses bad parameters before any round: session id, own id, signer set", () => {
  const isBadInput = (e: unknown) => e instanceof ProtocolError && e.kind === "bad-input";
  const share = shares.get(1)!;
  const ok = { sessionId: randomBytes(32), self: 1, signers: [1, 2], share, message: randomBytes(32) };
  assert.doesNotThrow(() => ecdsaScheme.sign(ok));
  for (const bad of [
    { ...ok, sessionId: randomBytes(31) },
    { ...ok, sessionId: "not bytes" as unknown as Uint8Array },
    { ...ok, self: 2 },
    { ...ok, signers: [1, 4] },
    { ...ok, signers: [2, 3] },
    { ...ok, share: dealShares(3, 3).get(1)!, signers: [1, 2] },
  ])
    assert.throws(() => ecdsaScheme.sign(bad), isBadInput);
});
