/**
 * The batch combinator: runs k independent instances of one protocol as a single protocol, so one
 * {@link Session} (one join, one transport session) carries all of them. Round by round, each
 * instance's message to one recipient becomes one part of the batch message to that recipient:
 * `u32 k || (u32 len || part)` × k, in instance order. Every instance is the unchanged protocol,
 * run under its own session id `H(batch/sid; batch session id, k, i)`, so no nonce, transcript
 * or binding value repeats across instances; the combinator adds no cryptography.
 *
 * Rules: every instance must have the same round structure (same round numbers, expectations and
 * recipients, which holds for k instances of one scheme's signing with the same signers); a
 * batch message with the wrong count, a truncated part or trailing bytes is a `bad-message`
 * naming its sender; any instance's abort aborts the batch with that abort's kind and culprits.
 * @module
 */
import { ProtocolError } from "./errors.js";
import { transcriptHash } from "./hash.js";
import type { ProtocolMessage } from "./message.js";
import type { Round, RoundExpectation, Step } from "./round.js";
import type { SignatureOutput, SignParams } from "./scheme.js";

/** Most instances one batch runs. */
export const MAX_BATCH = 256;

/** The session id of instance `index` of a batch of `count` run under `sessionId`. */
export function batchInstanceSessionId(sessionId: Uint8Array, count: number, index: number): Uint8Array {
  return transcriptHash("custody/core/batch/sid/v1", [sessionId, count, index]);
}

/** Frames `parts` as one batch payload: `u32 count`, then `u32 length || bytes` for each part. */
export function encodeBatchPayload(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(4 + parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length);
  let off = 4;
  for (const p of parts) {
    view.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/**
 * Parses a batch payload that must hold exactly `count` parts.
 * @throws ProtocolError `bad-message` blaming `from` for a wrong count, a truncated part or trailing bytes
 */
export function decodeBatchPayload(payload: Uint8Array, count: number, from: number): Uint8Array[] {
  const bad = (why: string) => new ProtocolError("bad-message", `batch message: ${why}`, [from]);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload.length < 4) throw bad("truncated count");
  const n = view.getUint32(0);
  if (n !== count) throw bad(`${n} parts, expected ${count}`);
  const parts: Uint8Array[] = [];
  let off = 4;
  for (let i = 0; i < count; i++) {
    if (payload.length - off < 4) throw bad(`part ${i} truncated`);
    const len = view.getUint32(off);
    if (payload.length - off - 4 < len) throw bad(`part ${i} truncated`);
    parts.push(payload.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  if (off !== payload.length) throw bad("trailing bytes");
  return parts;
}

/** Runs `f` for instance `index`; a protocol abort keeps its kind and culprits and names the instance. */
function inInstance<R>(index: number, f: () => R): R {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    throw new ProtocolError(e.kind, `batch item ${index}: ${e.reason}`, e.culprits, {
      cause: e,
    });
  }
}

const recipientKey = (m: ProtocolMessage) => `${m.round}:${m.to}`;

/** One batch message per (round, recipient), each the framed parts of every instance in order. */
function combineOutgoing(steps: readonly Step<unknown>[]): ProtocolMessage[] {
  const groups = new Map<string, { first: ProtocolMessage; parts: Uint8Array[] }>();
  steps.forEach((step, i) => {
    const seen = new Set<string>();
    for (const m of step.outgoing) {
      const key = recipientKey(m);
      if (seen.has(key)) throw new ProtocolError("internal", `batch item ${i} sent twice to ${key}`);
      seen.add(key);
      const g = groups.get(key);
      if (g === undefined) {
        if (i !== 0) throw new ProtocolError("internal", `batch item ${i} sends what item 0 does not`);
        groups.set(key, { first: m, parts: [m.payload] });
      } else {
        if (g.first.from !== m.from) throw new ProtocolError("internal", "batch items differ in sender");
        g.parts.push(m.payload);
      }
    }
  });
  const out: ProtocolMessage[] = [];
  for (const [key, g] of groups) {
    if (g.parts.length !== steps.length)
      throw new ProtocolError("internal", `not every batch item sends to ${key}`);
    out.push({
      round: g.first.round,
      from: g.first.from,
      to: g.first.to,
      payload: encodeBatchPayload(g.parts),
    });
  }
  return out;
}

const sameExpectation = (a: RoundExpectation, b: RoundExpectation) =>
  a.broadcast === b.broadcast &&
  a.p2p === b.p2p &&
  a.from.length === b.from.length &&
  a.from.every((p, i) => p === b.from[i]);

/** Merges the k instances' steps into one batch step (they must agree in shape). */
function combine<T>(steps: readonly Step<T>[]): Step<T[]> {
  const outgoing = combineOutgoing(steps);
  const first = steps[0]!;
  if (first.kind === "done") {
    if (steps.some((s) => s.kind !== "done"))
      throw new ProtocolError("internal", "batch items finished apart");
    return { kind: "done", result: steps.map((s) => (s as { result: T }).result), outgoing };
  }
  const rounds: Round<T>[] = steps.map((s) => {
    if (
      s.kind !== "next" ||
      s.round.number !== first.round.number ||
      !sameExpectation(s.round.expects, first.round.expects)
    )
      throw new ProtocolError("internal", "batch items differ in round structure");
    return s.round;
  });
  const round: Round<T[]> = {
    number: first.round.number,
    expects: first.round.expects,
    receive: (msg) => {
      const parts = decodeBatchPayload(msg.payload, rounds.length, msg.from);
      rounds.forEach((r, i) => {
        inInstance(i, () => r.receive({ ...msg, payload: parts[i]! }));
      });
    },
    finalize: () => combine(rounds.map((r, i) => inInstance(i, () => r.finalize()))),
    settle: () => {
      rounds.forEach((r, i) => {
        inInstance(i, () => r.settle?.());
      });
    },
  };
  return { kind: "next", round, outgoing };
}

/**
 * Runs `count` instances of one protocol as one: `start(i, sid_i)` begins instance i under its
 * own session id (see {@link batchInstanceSessionId}). The result lists every instance's result in
 * order.
 * @throws ProtocolError `bad-input` for a count outside 1..{@link MAX_BATCH}
 * @example
 * const step = batch(sessionId, 3, (i, sid) => scheme.sign({ ...params, sessionId: sid, message: msgs[i] }));
 */
export function batch<T>(
  sessionId: Uint8Array,
  count: number,
  start: (index: number, sessionId: Uint8Array) => Step<T>,
): Step<T[]> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH)
    throw new ProtocolError("bad-input", `a batch holds 1 to ${MAX_BATCH} items, not ${count}`);
  const steps: Step<T>[] = [];
  for (let i = 0; i < count; i++)
    steps.push(inInstance(i, () => start(i, batchInstanceSessionId(sessionId, count, i))));
  return combine(steps);
}

/** One message of a signing batch, with its own optional derivation path. */
export interface BatchSignItem {
  readonly message: Uint8Array;
  readonly path?: readonly number[];
}

/**
 * Signs every item of `items` with one key and one signer set, as one protocol run: instance i
 * is `sign` over `params` with item i's message and path, under its own session id (see
 * {@link batch}). `params` is the rest of the scheme's {@link SignParams}. The result lists the
 * signatures in item order.
 */
export function signBatch<P extends Pick<SignParams<unknown>, "sessionId">>(
  sign: (params: P & BatchSignItem) => Step<SignatureOutput>,
  params: P,
  items: readonly BatchSignItem[],
): Step<SignatureOutput[]> {
  return batch(params.sessionId, items.length, (i, sessionId) =>
    sign({ ...params, sessionId, message: items[i]!.message, path: items[i]!.path }),
  );
}
