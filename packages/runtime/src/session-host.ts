/**
 * Where a protocol session's maths runs. The in-process host calls the pure {@link Session}
 * directly; a thread host (see `thread-host.ts`) keeps heavy rounds off the event loop.
 * @module
 */
import { type PartyId, type ProtocolMessage, Session, type Step } from "@custody/core";

/** A protocol session as the transport sees it: messages in, messages out. */
export interface SessionHost<T> {
  /** Starts the protocol; resolves to the first outgoing messages. */
  start(): Promise<readonly ProtocolMessage[]>;
  /** Delivers one message; resolves to the messages to send in response. Rejects with a ProtocolError. */
  deliver(msg: ProtocolMessage): Promise<readonly ProtocolMessage[]>;
  /** Parties the current round still waits for. */
  missing(): Promise<readonly PartyId[]>;
  /**
   * The current round cannot finish: runs the checks it deferred on the messages it has (see
   * `Session.settle`). Rejects with a ProtocolError naming the sender of an invalid one.
   */
  settle(): Promise<void>;
  /** The result once done, else undefined. */
  result(): Promise<{ value: T } | undefined>;
  /** Releases resources (threads). */
  close(): Promise<void>;
}

/** Runs the session on the calling thread. Fine for protocols whose rounds take milliseconds. */
export function inProcessHost<T>(self: PartyId, begin: () => Step<T>, maxRounds: number): SessionHost<T> {
  const s = new Session<T>(self, begin, { maxRounds });
  return {
    start: async () => s.start(),
    deliver: async (m) => s.deliver(m),
    missing: async () => s.missing(),
    settle: async () => s.settle(),
    result: async () => (s.done ? { value: s.result } : undefined),
    close: async () => {},
  };
}
