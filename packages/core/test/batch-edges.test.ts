/**
 * The batch combinator's edges, each aimed at one check the mutation run found untested: the
 * instance session id's known answer, strict decoding at part boundaries, errors that are not
 * protocol aborts, instances that disagree in what they send or expect (a scheme bug, never a
 * peer's: an internal error), and `signBatch` handing each instance its own item.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  batch,
  batchInstanceSessionId,
  decodeBatchPayload,
  done,
  encodeBatchPayload,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  type RoundExpectation,
  type SignatureOutput,
  type Step,
  signBatch,
} from "../src/index.js";

/** `u32be(len) || bytes` for the domain and each part; integers as u64 big-endian. */
const frame = (domain: string, parts: (Uint8Array | number)[]) =>
  Buffer.concat(
    [Buffer.from(domain), ...parts].flatMap((p) => {
      let bytes: Buffer;
      if (typeof p === "number") {
        bytes = Buffer.alloc(8);
        bytes.writeBigUInt64BE(BigInt(p));
      } else bytes = Buffer.from(p);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return [len, bytes];
    }),
  );

const isInternal = (e: unknown) => e instanceof ProtocolError && e.kind === "internal";
const isBadMessageFrom = (from: number) => (e: unknown) =>
  e instanceof ProtocolError && e.kind === "bad-message" && e.culprits.length === 1 && e.culprits[0] === from;

/** A one-round step of party 1 expecting `expects`, sending `outgoing`. */
function oneRound(
  outgoing: ProtocolMessage[],
  expects: RoundExpectation = { from: [2], broadcast: true, p2p: false },
  number = 1,
): Step<number> {
  const r: Round<number> = { number, expects, receive: () => {}, finalize: () => done(1) };
  return next(r, outgoing);
}
const to = (recipient: PartyId | "all", from = 1, round = 1): ProtocolMessage => ({
  round,
  from,
  to: recipient,
  payload: new Uint8Array(1),
});

test("an instance's session id is SHA-256 of the framed tag, batch session id, size and index", () => {
  const sid = randomBytes(32);
  const want = createHash("sha256")
    .update(frame("custody/core/batch/sid/v1", [sid, 7, 3]))
    .digest();
  assert.deepEqual(Buffer.from(batchInstanceSessionId(sid, 7, 3)), want);
});

test("decoding at part boundaries: an empty last part and an empty batch are whole, a cut length is bad", () => {
  const lastEmpty = encodeBatchPayload([Uint8Array.of(9), new Uint8Array()]);
  assert.deepEqual(
    decodeBatchPayload(lastEmpty, 2, 5).map((p) => [...p]),
    [[9], []],
  );
  assert.deepEqual(decodeBatchPayload(encodeBatchPayload([]), 0, 5), []);
  // Part 1's length field cut to 2 bytes: a typed refusal naming the sender, not a RangeError.
  const cut = encodeBatchPayload([Uint8Array.of(9), Uint8Array.of(8)]).subarray(0, 4 + 5 + 2);
  assert.throws(() => decodeBatchPayload(cut, 2, 5), isBadMessageFrom(5));
});

test("an error that is not a protocol abort leaves the batch as it is, not as an abort", () => {
  assert.throws(
    () =>
      batch(new Uint8Array(32), 2, (i) => {
        if (i === 1) throw new TypeError("a bug");
        return done(0);
      }),
    (e) => e instanceof TypeError && !(e instanceof ProtocolError),
  );
});

test("instances that send differently are an internal error", () => {
  const sid = new Uint8Array(32);
  const cases: Record<string, (i: number) => Step<number>> = {
    "twice to one recipient": (i) => oneRound(i === 1 ? [to("all"), to("all")] : [to("all")]),
    "a recipient the first does not have": (i) => oneRound(i === 1 ? [to("all"), to(2)] : [to("all")]),
    "another sender": (i) => oneRound([to("all", i === 1 ? 3 : 1)]),
    "a recipient a later one lacks": (i) => oneRound(i === 0 ? [to("all"), to(2)] : [to("all")]),
  };
  for (const [name, start] of Object.entries(cases))
    assert.throws(() => batch(sid, 2, start), isInternal, name);
});

test("instances that expect differently or finish apart are an internal error", () => {
  const sid = new Uint8Array(32);
  const base: RoundExpectation = { from: [2, 3], broadcast: true, p2p: false };
  const variants: Record<string, RoundExpectation> = {
    "broadcast flag": { ...base, broadcast: false },
    "p2p flag": { ...base, p2p: true },
    "another sender list": { ...base, from: [2, 4] },
    "a shorter sender list": { ...base, from: [2] },
  };
  for (const [name, expects] of Object.entries(variants))
    assert.throws(
      () => batch(sid, 2, (i) => oneRound([to("all")], i === 0 ? base : expects)),
      isInternal,
      name,
    );
  assert.throws(
    () => batch(sid, 2, (i) => oneRound([to("all")], base, i === 0 ? 1 : 2)),
    isInternal,
    "another round number",
  );
  assert.throws(() => batch(sid, 2, (i) => (i === 0 ? done(1) : oneRound([]))), isInternal, "finished apart");
  // Agreeing instances combine: one message per recipient, a round of the same number.
  const ok = batch(sid, 2, () => oneRound([to("all")], base));
  assert.equal(ok.kind, "next");
  assert.equal(ok.outgoing.length, 1);
});

test("signBatch gives instance i its own item's message and path, under its own session id", () => {
  const sessionId = randomBytes(32);
  const seen: { message: Uint8Array; path?: readonly number[]; sessionId: Uint8Array; extra: string }[] = [];
  const items = [{ message: Uint8Array.of(1) }, { message: Uint8Array.of(2), path: [0, 7] }];
  const step = signBatch(
    (p: { sessionId: Uint8Array; extra: string; message: Uint8Array; path?: readonly number[] }) => {
      seen.push(p);
      return done<SignatureOutput>({ signature: p.message, publicKey: new Uint8Array(33) });
    },
    { sessionId, extra: "kept" },
    items,
  );
  assert.equal(step.kind, "done");
  assert.deepEqual(
    seen.map((s) => [[...s.message], s.path, s.extra]),
    [
      [[1], undefined, "kept"],
      [[2], [0, 7], "kept"],
    ],
  );
  for (const [i, s] of seen.entries()) assert.deepEqual(s.sessionId, batchInstanceSessionId(sessionId, 2, i));
});
