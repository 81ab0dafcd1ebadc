/**
 * The batch combinator with a toy two-round protocol that, like the real signing protocols, binds
 * its session id (round 1 echoes it, a mismatch aborts) and its transcript (round 2 sends a
 * digest of every round-1 value, a difference names the sender). Tampering is applied to the
 * batch messages in flight, as a hostile peer or broker would.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import {
  batch,
  batchInstanceSessionId,
  decodeBatchPayload,
  done,
  encodeBatchPayload,
  equalBytes,
  MAX_BATCH,
  mapStep,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  type Round,
  runLocal,
  type Step,
  type Tamper,
  transcriptHash,
} from "../src/index.js";

interface ToyResult {
  readonly sessionId: string;
  readonly input: number;
  readonly digest: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Round 1: broadcast sid || input || fresh value. Round 2: p2p digest of every value. */
function toy(
  self: PartyId,
  parties: readonly PartyId[],
  sessionId: Uint8Array,
  input: number,
): Step<ToyResult> {
  const peers = parties.filter((p) => p !== self);
  const mine = new Uint8Array(randomBytes(8));
  const values = new Map<PartyId, Uint8Array>([[self, mine]]);
  const digest = () =>
    transcriptHash("toy/digest", [
      sessionId,
      input,
      ...parties.map((p) => values.get(p) ?? new Uint8Array()),
    ]);
  const r2: Round<ToyResult> = {
    number: 2,
    expects: { from: peers, broadcast: false, p2p: true },
    receive(m) {
      if (m.payload.length !== 32 || !equalBytes(m.payload, digest()))
        throw new ProtocolError("bad-message", "digest differs", [m.from]);
    },
    finalize: () => done({ sessionId: hex(sessionId), input, digest: hex(digest()) }),
  };
  const r1: Round<ToyResult> = {
    number: 1,
    expects: { from: peers, broadcast: true, p2p: false },
    receive(m) {
      if (m.payload.length !== 41) throw new ProtocolError("bad-message", "wrong length", [m.from]);
      if (!equalBytes(m.payload.subarray(0, 32), sessionId) || m.payload[32] !== input)
        throw new ProtocolError("mismatch", "another session or input");
      values.set(m.from, m.payload.slice(33));
    },
    finalize: () =>
      next(
        r2,
        peers.map((to) => ({ round: 2, from: self, to, payload: digest() })),
      ),
  };
  const payload = new Uint8Array(41);
  payload.set(sessionId);
  payload[32] = input;
  payload.set(mine, 33);
  return next(r1, [{ round: 1, from: self, to: "all", payload }]);
}

const PARTIES = [1, 2, 3];

/** Every party runs a batch of `inputs` (one toy instance each) under `sid`. */
function runBatch(inputs: readonly number[], options: { tamper?: Tamper; shuffleSeed?: number } = {}) {
  const sid = new Uint8Array(randomBytes(32));
  const started: string[] = [];
  const starts = new Map(
    PARTIES.map((p) => [
      p,
      () =>
        batch(sid, inputs.length, (i, s) => {
          if (p === 1) started.push(hex(s));
          return toy(p, PARTIES, s, inputs[i]!);
        }),
    ]),
  );
  return { sid, started, run: runLocal(starts, options) };
}

/** Rewrites the parts of batch messages from `from` to `to` in round `round`. */
const onParts =
  (from: PartyId, to: PartyId, round: number, f: (parts: Uint8Array[]) => Uint8Array[]): Tamper =>
  (m: ProtocolMessage, receiver) => {
    if (m.from !== from || receiver !== to || m.round !== round) return m;
    const n = new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0);
    return { ...m, payload: encodeBatchPayload(f(decodeBatchPayload(m.payload, n, from))) };
  };

function assertAbort(err: unknown, kind: string, culprits: readonly number[], text?: RegExp) {
  assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  assert.deepEqual([...err.culprits], [...culprits]);
  if (text) assert.match(err.message, text);
}

describe("batch combinator", () => {
  for (const k of [1, 2, MAX_BATCH]) {
    test(`a batch of ${k} gives every party every instance's result, in order`, () => {
      const inputs = Array.from({ length: k }, (_, i) => i % 256);
      const { sid, started, run } = runBatch(inputs, { shuffleSeed: k });
      assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
      assert.equal(run.results.size, 3);
      const first = run.results.get(1)!;
      assert.equal(first.length, k);
      for (const r of run.results.values()) assert.deepEqual(r, first);
      first.forEach((r, i) => {
        assert.equal(r.input, inputs[i]);
        assert.equal(r.sessionId, hex(batchInstanceSessionId(sid, k, i)));
      });
      // Every instance under its own session id, none of them the batch's.
      assert.equal(new Set(started).size, k);
      assert.ok(!started.includes(hex(sid)));
    });
  }

  test("one message per round and recipient, whatever k is", () => {
    const { run } = runBatch([1, 2, 3, 4]);
    assert.equal(run.errors.size, 0);
    // Round 1: one broadcast to 2 receivers; round 2: 2 p2p messages. Each part framed.
    const perParty = 2 * (4 + 4 * (4 + 41)) + 2 * (4 + 4 * (4 + 32));
    for (const p of PARTIES) assert.equal(run.bytesSent.get(p), perParty);
  });

  test("instance session ids are domain-separated by batch size and index", () => {
    const sid = new Uint8Array(32);
    const ids = [
      batchInstanceSessionId(sid, 2, 0),
      batchInstanceSessionId(sid, 2, 1),
      batchInstanceSessionId(sid, 3, 0),
    ].map(hex);
    assert.equal(new Set([...ids, hex(sid)]).size, 4);
  });

  test("a tampered part of one instance aborts the batch, naming the sender and the instance", () => {
    const tamper = onParts(2, 1, 2, (parts) =>
      parts.map((p, i) => (i === 5 ? Uint8Array.from(p, (b, j) => (j === 0 ? b ^ 1 : b)) : p)),
    );
    const { run } = runBatch([0, 1, 2, 3, 4, 5, 6, 7], { tamper });
    assertAbort(run.errors.get(1), "bad-message", [2], /batch item 5/);
  });

  test("reordered parts are refused (each instance checks its own session)", () => {
    const tamper = onParts(3, 2, 1, (parts) => [parts[1]!, parts[0]!, ...parts.slice(2)]);
    const { run } = runBatch([7, 7, 7], { tamper });
    assertAbort(run.errors.get(2), "mismatch", [], /batch item 0/);
    assert.equal(run.results.has(2), false);
  });

  for (const [what, f] of [
    ["a missing part", (parts: Uint8Array[]) => parts.slice(1)],
    ["an extra part", (parts: Uint8Array[]) => [...parts, parts[0]!]],
  ] as const) {
    test(`${what} is a bad-message naming the sender`, () => {
      const { run } = runBatch([1, 2, 3], { tamper: onParts(2, 3, 1, f) });
      assertAbort(run.errors.get(3), "bad-message", [2], /parts, expected 3/);
    });
  }

  test("truncated and trailing bytes are bad-messages naming the sender", () => {
    const good = encodeBatchPayload([Uint8Array.of(1, 2), Uint8Array.of(3)]);
    assert.deepEqual(
      decodeBatchPayload(good, 2, 4).map((p) => [...p]),
      [[1, 2], [3]],
    );
    const cases = [good.subarray(0, 3), good.subarray(0, good.length - 1), Uint8Array.from([...good, 0])];
    for (const bytes of cases)
      assert.throws(
        () => decodeBatchPayload(bytes, 2, 4),
        (e) => {
          assertAbort(e, "bad-message", [4]);
          return true;
        },
      );
    // A part whose length runs past the end.
    const long = new Uint8Array(good);
    new DataView(long.buffer).setUint32(4, 1000);
    assert.throws(() => decodeBatchPayload(long, 2, 4), /part 0 truncated/);
  });

  test("an instance's abort aborts the batch with its kind and culprits", () => {
    const sid = new Uint8Array(32);
    const failing = (self: PartyId): Step<number> => {
      const r: Round<number> = {
        number: 1,
        expects: { from: PARTIES.filter((p) => p !== self), broadcast: true, p2p: false },
        receive: (m) => {
          throw new ProtocolError("security", "check failed", [m.from]);
        },
        finalize: () => done(0),
      };
      return next(r, [{ round: 1, from: self, to: "all", payload: new Uint8Array(1) }]);
    };
    const starts = new Map(
      PARTIES.map((p) => [
        p,
        () =>
          batch(sid, 3, (i, s) => (i === 2 ? failing(p) : mapStep(toy(p, PARTIES, s, i), (r) => r.input))),
      ]),
    );
    const run = runLocal(starts);
    for (const p of PARTIES) {
      const e = run.errors.get(p);
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.kind, "security");
      assert.equal(e.culprits.length, 1);
      assert.match(e.message, /^batch item 2: check failed \(culprit: \d\)$/);
    }
  });

  test("instances that differ in round structure are an internal error", () => {
    const sid = new Uint8Array(32);
    const oneRound = (self: PartyId): Step<number> =>
      next(
        {
          number: 1,
          expects: { from: [2], broadcast: true, p2p: false },
          receive: () => {},
          finalize: () => done(1),
        },
        [{ round: 1, from: self, to: "all", payload: new Uint8Array(0) }],
      );
    assert.throws(
      () => batch(sid, 2, (i, s) => (i === 0 ? mapStep(toy(1, PARTIES, s, 0), (r) => r.input) : oneRound(1))),
      (e) => e instanceof ProtocolError && e.kind === "internal",
    );
    assert.throws(
      () => batch(sid, 2, (i) => (i === 0 ? oneRound(1) : done(2))),
      (e) => e instanceof ProtocolError && e.kind === "internal",
    );
  });

  for (const k of [0, MAX_BATCH + 1, 1.5]) {
    test(`a batch of ${k} is bad-input`, () => {
      assert.throws(
        () => batch(new Uint8Array(32), k, () => done(0)),
        (e) => e instanceof ProtocolError && e.kind === "bad-input",
      );
    });
  }
});

test("settling a batch settles every instance's round and names the instance that fails", () => {
  const settled: number[] = [];
  const waiting = (i: number): Step<number> =>
    next(
      {
        number: 1,
        expects: { from: [2], broadcast: true, p2p: false },
        receive() {},
        finalize: () => done(i),
        settle: () => {
          settled.push(i);
          if (i === 2) throw new ProtocolError("bad-message", "deferred check failed", [2]);
        },
      } satisfies Round<number>,
      [],
    );
  const step = batch(new Uint8Array(32), 3, (i) => waiting(i));
  assert.equal(step.kind, "next");
  const round = (step as { round: Round<number[]> }).round;
  assert.throws(
    () => round.settle!(),
    (e) =>
      e instanceof ProtocolError &&
      e.culprits.join() === "2" &&
      e.message === "batch item 2: deferred check failed (culprit: 2)",
  );
  assert.deepEqual(settled, [0, 1, 2]);
  // Instances without deferred checks settle as nothing.
  const plain = batch(new Uint8Array(32), 2, () =>
    next({ ...(waiting(0) as { round: Round<number> }).round, settle: undefined }, []),
  );
  (plain as { round: Round<number[]> }).round.settle!();
});
