/**
 * An in-process network that runs several parties' sessions against each other, with hooks to
 * drop, reorder or tamper with messages. For tests, benchmarks and examples; no I/O.
 * @module
 */
import type { ProtocolMessage } from "./message.js";
import type { PartyId } from "./party.js";
import type { Step } from "./round.js";
import { Session } from "./session.js";

/**
 * Rewrites a message in flight to one receiver. Return the message (possibly changed) to deliver it,
 * or `null` to drop it.
 */
export type Tamper = (msg: ProtocolMessage, to: PartyId) => ProtocolMessage | null;

/** Options of {@link runLocal}. */
export interface LocalRunOptions {
  /** Applied to every delivery (a broadcast is one delivery per receiver). */
  readonly tamper?: Tamper;
  /** Deliver queued messages in a pseudo-random order derived from this seed. */
  readonly shuffleSeed?: number;
}

/** Outcome of {@link runLocal}: per party a result, an error, or neither (stalled). */
export interface LocalRun<T> {
  readonly results: Map<PartyId, T>;
  readonly errors: Map<PartyId, unknown>;
  /** Parties that neither finished nor failed (they wait for messages that never came). */
  readonly stalled: PartyId[];
  /** Total payload bytes sent by each party (a broadcast counted once per receiver). */
  readonly bytesSent: Map<PartyId, number>;
}

/**
 * Runs one session per party until no message is left in flight.
 * @param starts each participating party's first-step function
 * @example
 * const { results } = runLocal(new Map([[1, () => keygen(1)], [2, () => keygen(2)]]));
 */
export function runLocal<T>(
  starts: ReadonlyMap<PartyId, () => Step<T>>,
  options: LocalRunOptions = {},
): LocalRun<T> {
  const parties = [...starts.keys()];
  const sessions = new Map<PartyId, Session<T>>();
  const errors = new Map<PartyId, unknown>();
  const bytesSent = new Map<PartyId, number>(parties.map((p) => [p, 0]));
  const queue: { msg: ProtocolMessage; to: PartyId }[] = [];
  let seed = options.shuffleSeed ?? 0;
  const rand = () => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seed / 2 ** 32;
  };
  const enqueue = (out: readonly ProtocolMessage[]) => {
    for (const msg of out) {
      const targets = msg.to === "all" ? parties.filter((p) => p !== msg.from) : [msg.to];
      for (const to of targets) {
        bytesSent.set(msg.from, (bytesSent.get(msg.from) ?? 0) + msg.payload.length);
        queue.push({ msg, to });
      }
    }
  };
  for (const [id, begin] of starts) {
    const s = new Session<T>(id, begin);
    sessions.set(id, s);
    try {
      enqueue(s.start());
    } catch (e) {
      errors.set(id, e);
    }
  }
  while (queue.length > 0) {
    const idx = options.shuffleSeed === undefined ? 0 : Math.floor(rand() * queue.length);
    const { msg, to } = queue.splice(idx, 1)[0]!;
    if (errors.has(to)) continue;
    const session = sessions.get(to);
    if (!session) continue;
    const delivered = options.tamper ? options.tamper(msg, to) : msg;
    if (!delivered) continue;
    try {
      enqueue(session.deliver(delivered));
    } catch (e) {
      errors.set(to, e);
    }
  }
  const results = new Map<PartyId, T>();
  const stalled: PartyId[] = [];
  for (const [id, s] of sessions) {
    if (errors.has(id)) continue;
    if (s.done) results.set(id, s.result);
    else stalled.push(id);
  }
  return { results, errors, stalled, bytesSent };
}
