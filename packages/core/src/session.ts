/**
 * The generic driver that runs any protocol's rounds for one party: it checks routing, queues
 * messages that arrive early, refuses duplicates and equivocation, and finalizes a round as soon as
 * everything it expects has arrived. It does no I/O: a transport feeds it and sends what it returns.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ProtocolError } from "./errors.js";
import type { ProtocolMessage } from "./message.js";
import type { PartyId } from "./party.js";
import type { Round, Step } from "./round.js";

/** Options of a {@link Session}. */
export interface SessionOptions {
  /** Highest round number a message may carry; bounds the early-message queue. Default 16. */
  readonly maxRounds?: number;
}

type Slot = string;
const slotOf = (m: ProtocolMessage): Slot => `${m.round}:${m.from}:${m.to === "all" ? "b" : "p"}`;

/**
 * Runs one party's side of a protocol.
 * @example
 * const s = new Session(1, () => startKeygen(params));
 * send(s.start());
 * for (const m of incoming) send(s.deliver(m));
 * if (s.done) use(s.result);
 */
export class Session<T> {
  private round: Round<T> | undefined;
  private value: { result: T } | undefined;
  private readonly seen = new Map<Slot, string>();
  private readonly early = new Map<Slot, ProtocolMessage>();
  private readonly got = new Set<Slot>();
  private readonly maxRounds: number;
  private started = false;

  /**
   * @param self this party's id
   * @param begin produces the first step (round 1 and its outgoing messages)
   */
  constructor(
    readonly self: PartyId,
    private readonly begin: () => Step<T>,
    options: SessionOptions = {},
  ) {
    this.maxRounds = options.maxRounds ?? 16;
  }

  /** Starts the protocol; returns the first messages to send. Call once. */
  start(): ProtocolMessage[] {
    if (this.started) throw new ProtocolError("internal", "session already started");
    this.started = true;
    const out = this.apply(this.begin());
    out.push(...this.advance());
    return out;
  }

  /** True once the protocol produced its result. */
  get done(): boolean {
    return this.value !== undefined;
  }

  /** The protocol's result; throws before {@link done}. */
  get result(): T {
    if (!this.value) throw new ProtocolError("internal", "session has no result yet");
    return this.value.result;
  }

  /** Number of the round currently waiting for messages (0 before start or after the end). */
  get currentRound(): number {
    return this.round?.number ?? 0;
  }

  /** Parties whose messages the current round still waits for (the culprits of a timeout). */
  missing(): PartyId[] {
    const r = this.round;
    if (!r) return [];
    const out: PartyId[] = [];
    for (const from of r.expects.from) {
      const b = !r.expects.broadcast || this.got.has(`${r.number}:${from}:b`);
      const p = !r.expects.p2p || this.got.has(`${r.number}:${from}:p`);
      if (!(b && p)) out.push(from);
    }
    return out;
  }

  /**
   * The current round cannot finish (it timed out): runs the checks it deferred on the messages it
   * has (see `Round.settle`), so an invalid one is named even while another party stays silent.
   * @throws ProtocolError naming the sender of an invalid message.
   */
  settle(): void {
    this.round?.settle?.();
  }

  /**
   * Accepts one incoming message and returns the messages to send in response (possibly none).
   * An exact duplicate of an already accepted message is ignored.
   * @throws ProtocolError naming the sender for misrouted, conflicting or invalid messages.
   */
  deliver(msg: ProtocolMessage): ProtocolMessage[] {
    if (!this.started) throw new ProtocolError("internal", "deliver before start");
    const from = msg.from;
    if (from === this.self) throw new ProtocolError("bad-message", "message claims to come from us", [from]);
    if (msg.to !== "all" && msg.to !== this.self)
      throw new ProtocolError("bad-message", `message addressed to party ${msg.to}`, [from]);
    if (!Number.isInteger(msg.round) || msg.round < 1 || msg.round > this.maxRounds)
      throw new ProtocolError("bad-message", `invalid round ${msg.round}`, [from]);
    const slot = slotOf(msg);
    const digest = bytesToHex(sha256(msg.payload));
    const prior = this.seen.get(slot);
    if (prior !== undefined) {
      if (prior === digest) return [];
      throw new ProtocolError("bad-message", `conflicting messages for round ${msg.round}`, [from]);
    }
    this.seen.set(slot, digest);
    if (this.done || !this.round || msg.round < this.round.number)
      throw new ProtocolError("bad-message", `message for finished round ${msg.round}`, [from]);
    if (msg.round > this.round.number) {
      this.early.set(slot, msg);
      return [];
    }
    this.accept(this.round, msg);
    return this.advance();
  }

  private accept(round: Round<T>, msg: ProtocolMessage): void {
    const e = round.expects;
    const isBroadcast = msg.to === "all";
    if (!e.from.includes(msg.from))
      throw new ProtocolError("bad-message", `unexpected sender in round ${round.number}`, [msg.from]);
    if (isBroadcast ? !e.broadcast : !e.p2p)
      throw new ProtocolError(
        "bad-message",
        `round ${round.number} takes no ${isBroadcast ? "broadcast" : "point-to-point"} message`,
        [msg.from],
      );
    round.receive(msg);
    this.got.add(slotOf(msg));
  }

  private advance(): ProtocolMessage[] {
    const out: ProtocolMessage[] = [];
    while (this.round && this.missing().length === 0) {
      out.push(...this.apply(this.round.finalize()));
    }
    return out;
  }

  private apply(step: Step<T>): ProtocolMessage[] {
    const out = [...step.outgoing];
    for (const m of out) {
      if (m.from !== this.self) throw new ProtocolError("internal", "round emitted a message not from us");
    }
    if (step.kind === "done") {
      this.round = undefined;
      this.value = { result: step.result };
      return out;
    }
    this.round = step.round;
    for (const [slot, m] of [...this.early]) {
      if (m.round !== step.round.number) continue;
      this.early.delete(slot);
      this.accept(step.round, m);
    }
    return out;
  }
}
