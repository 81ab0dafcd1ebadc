import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeWith,
  done,
  frame,
  mapStep,
  next,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  Reader,
  type Round,
  runLocal,
  Session,
  transcriptHash,
  Writer,
} from "../src/index.js";

/** Toy protocol: round 1 broadcasts a byte, round 2 sends each peer a p2p byte; result = sum of all. */
function toy(self: PartyId, parties: PartyId[], value: number) {
  const peers = parties.filter((p) => p !== self);
  const got1 = new Map<PartyId, number>();
  const got2 = new Map<PartyId, number>();
  const r2: Round<number> = {
    number: 2,
    expects: { from: peers, broadcast: false, p2p: true },
    receive(m) {
      const v = decodeWith(m.payload, (r) => r.u8());
      if (v !== got1.get(m.from))
        throw new ProtocolError("bad-message", "p2p value differs from broadcast", [m.from]);
      got2.set(m.from, v);
    },
    finalize: () => done(value + [...got2.values()].reduce((a, b) => a + b, 0)),
  };
  const r1: Round<number> = {
    number: 1,
    expects: { from: peers, broadcast: true, p2p: false },
    receive(m) {
      got1.set(
        m.from,
        decodeWith(m.payload, (r) => r.u8()),
      );
    },
    finalize: () =>
      next(
        r2,
        peers.map((to) => ({ round: 2, from: self, to, payload: new Writer().u8(value).finish() })),
      ),
  };
  return () =>
    next(r1, [{ round: 1, from: self, to: "all" as const, payload: new Writer().u8(value).finish() }]);
}

const parties = [1, 2, 3];
const starts = () => new Map(parties.map((p) => [p, toy(p, parties, p * 10)]));

test("runs every party to the same result, in order and shuffled", () => {
  for (const shuffleSeed of [undefined, 1, 2, 3, 99]) {
    const run = runLocal(starts(), { shuffleSeed });
    assert.deepEqual([...run.results.values()], [60, 60, 60]);
    assert.equal(run.errors.size, 0);
  }
});

test("a tampered message aborts the receiver and names the sender", () => {
  const run = runLocal(starts(), {
    tamper: (m, to) => (m.round === 2 && m.from === 2 && to === 3 ? { ...m, payload: Uint8Array.of(7) } : m),
  });
  const e = run.errors.get(3);
  assert.ok(e instanceof ProtocolError);
  assert.deepEqual(e.culprits, [2]);
});

test("a dropped message stalls the receiver and `missing` names the silent party", () => {
  const s = new Session(1, toy(1, parties, 10));
  s.start();
  s.deliver({ round: 1, from: 2, to: "all", payload: Uint8Array.of(20) });
  assert.deepEqual(s.missing(), [3]);
  assert.equal(s.done, false);
});

test("duplicates are ignored, conflicting duplicates and misrouted messages blame the sender", () => {
  const s = new Session(1, toy(1, parties, 10));
  s.start();
  const m: ProtocolMessage = { round: 1, from: 2, to: "all", payload: Uint8Array.of(20) };
  s.deliver(m);
  assert.deepEqual(s.deliver(m), []);
  assert.throws(
    () => s.deliver({ ...m, payload: Uint8Array.of(21) }),
    (e: ProtocolError) => e.culprits[0] === 2,
  );
  assert.throws(
    () => s.deliver({ round: 1, from: 3, to: 2, payload: Uint8Array.of(1) }),
    (e: ProtocolError) => e.culprits[0] === 3,
  );
  assert.throws(() => s.deliver({ round: 1, from: 1, to: "all", payload: Uint8Array.of(1) }), ProtocolError);
  assert.throws(() => s.deliver({ round: 99, from: 3, to: "all", payload: Uint8Array.of(1) }), ProtocolError);
  assert.throws(
    () => s.deliver({ round: 1, from: 9, to: "all", payload: Uint8Array.of(1) }),
    (e: ProtocolError) => e.culprits[0] === 9,
  );
});

test("messages for a later round wait in the queue", () => {
  const s = new Session(1, toy(1, parties, 10));
  s.start();
  s.deliver({ round: 2, from: 2, to: 1, payload: Uint8Array.of(20) });
  s.deliver({ round: 2, from: 3, to: 1, payload: Uint8Array.of(30) });
  s.deliver({ round: 1, from: 2, to: "all", payload: Uint8Array.of(20) });
  s.deliver({ round: 1, from: 3, to: "all", payload: Uint8Array.of(30) });
  assert.equal(s.result, 60);
});

test("codec rejects truncation, trailing bytes and oversized lengths", () => {
  const bytes = new Writer()
    .u8(1)
    .bytes(Uint8Array.of(1, 2, 3))
    .u32(7)
    .finish();
  assert.deepEqual(
    decodeWith(bytes, (r) => [r.u8(), [...r.bytes()], r.u32()]),
    [1, [1, 2, 3], 7],
  );
  assert.throws(() => decodeWith(bytes.slice(0, -1), (r) => [r.u8(), r.bytes(), r.u32()]));
  assert.throws(() => decodeWith(Uint8Array.of(...bytes, 0), (r) => [r.u8(), r.bytes(), r.u32()]));
  assert.throws(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 16).bytes());
});

test("transcript hashing is domain-separated and length-prefixed", () => {
  const a = transcriptHash("d", ["ab", "c"]);
  assert.notDeepEqual(a, transcriptHash("d", ["a", "bc"]));
  assert.notDeepEqual(a, transcriptHash("e", ["ab", "c"]));
  assert.deepEqual(a, transcriptHash("d", ["ab", "c"]));
  assert.deepEqual([...frame("x", [1])].slice(0, 5), [0, 0, 0, 1, 0x78]);
});

test("settle runs the current round's deferred checks, through mapStep too, and is a no-op without them", () => {
  const bad = new ProtocolError("bad-message", "deferred check failed", [2]);
  let settled = 0;
  const deferring: Round<number> = {
    number: 1,
    expects: { from: [2], broadcast: true, p2p: false },
    receive() {},
    finalize: () => done(1),
    settle: () => {
      settled++;
      throw bad;
    },
  };
  const s = new Session(1, () => mapStep(next(deferring, []), (n) => `${n}`));
  s.settle(); // not started: no round yet
  s.start();
  assert.throws(
    () => s.settle(),
    (e) => e === bad,
  );
  assert.equal(settled, 1);
  const plain = new Session(1, () => next({ ...deferring, settle: undefined }, []));
  plain.start();
  plain.settle();
  const finished = new Session(1, () => done(5));
  finished.start();
  finished.settle();
});

test("mapStep runs the same rounds and maps only the result, a finished step too", () => {
  const mapped = new Map(
    parties.map((p) => [p, () => mapStep(toy(p, parties, p * 10)(), (n) => `sum ${n}`)]),
  );
  const run = runLocal(mapped);
  assert.deepEqual([...run.results.values()], ["sum 60", "sum 60", "sum 60"]);
  const s = new Session(1, () => mapStep(done(2, []), (n) => n + 1));
  assert.deepEqual(s.start(), []);
  assert.equal(s.result, 3);
});
