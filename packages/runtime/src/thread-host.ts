/**
 * Runs protocol sessions in worker threads, so CPU-heavy rounds (the base OTs of DKLs23 key
 * generation, a signing batch) never block the event loop: heartbeats, progress signals and other
 * sessions keep going, and two sessions use two cores. A {@link SessionThreadPool} keeps threads
 * that finished a session and reuses them (a fresh thread spends hundreds of milliseconds loading
 * and warming its code); a thread serves one session at a time. The thread script builds each
 * session from a serialisable description with {@link serveSessionThread}; messages and results
 * cross the thread boundary by structured clone.
 * @module
 */

import { parentPort, Worker } from "node:worker_threads";
import { type PartyId, type ProtocolMessage, Session, type Step } from "@custody/core";
import type { SessionHost } from "./session-host.js";
import { errorFromWire, errorToWire, type WireError } from "./thread-errors.js";

type Call =
  | { id: number; op: "open"; init: unknown }
  | { id: number; op: "start" }
  | { id: number; op: "deliver"; msg: ProtocolMessage }
  | { id: number; op: "missing" | "settle" | "result" | "end" };
/** A call without its id (each member of the union on its own). */
type Request = Call extends infer C ? (C extends { id: number } ? Omit<C, "id"> : never) : never;
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** One worker thread and its calls in flight. */
class SessionThread {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Set once the thread failed or exited: it serves nothing more. */
  dead: Error | undefined;

  constructor(
    readonly worker: Worker,
    private readonly onDead: (t: SessionThread) => void,
  ) {
    worker.on("message", (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(errorFromWire(r.error));
    });
    worker.on("error", (e) => this.die(e));
    worker.on("messageerror", (e) => this.die(e));
    worker.on("exit", (code) => this.die(new Error(`session thread exited (${code})`)));
  }

  /** Marks the thread dead and fails every call in flight with `e`. */
  private die(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.onDead(this);
  }

  /** True when no call is in flight. */
  get quiet(): boolean {
    return this.pending.size === 0;
  }

  call<V>(c: Request): Promise<V> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<V>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...c, id });
    });
  }

  /** Stops the thread; calls still in flight fail. */
  async terminate(): Promise<void> {
    this.die(new Error("session thread terminated"));
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/**
 * Worker threads running `script` (which calls {@link serveSessionThread}), reused while idle. An
 * idle thread is terminated after `idleMs`, which also frees what its last session left in its heap.
 */
export class SessionThreadPool {
  private readonly idle: SessionThread[] = [];
  private readonly expiry = new Map<SessionThread, NodeJS.Timeout>();

  /** `maxIdle`: threads kept after their session (each holds its loaded code, tens of MB). */
  constructor(
    private readonly script: URL,
    private readonly maxIdle = 2,
    private readonly idleMs = 30_000,
  ) {}

  /** An idle thread (never a dead one), or a new one. */
  private take(): SessionThread {
    for (let t = this.idle.pop(); t; t = this.idle.pop()) {
      clearTimeout(this.expiry.get(t));
      this.expiry.delete(t);
      if (!t.dead) return t;
    }
    return new SessionThread(new Worker(this.script), (dead) => this.forget(dead));
  }

  /** Drops a thread from the idle list (it died, or expired). */
  private forget(t: SessionThread): void {
    const i = this.idle.indexOf(t);
    if (i >= 0) this.idle.splice(i, 1);
    clearTimeout(this.expiry.get(t));
    this.expiry.delete(t);
  }

  /** Keeps `t` for the next session, or ends it when the pool is full. */
  private async release(t: SessionThread): Promise<void> {
    if (t.dead || this.idle.length >= this.maxIdle) return t.terminate();
    // An idle thread does not keep the process alive.
    t.worker.unref();
    this.idle.push(t);
    const timer = setTimeout(() => {
      this.forget(t);
      void t.terminate();
    }, this.idleMs);
    timer.unref();
    this.expiry.set(t, timer);
  }

  /**
   * A session built in a thread from `init`. Closing it returns the thread to the pool when it
   * ended cleanly (no call in flight, the session dropped); a thread that failed, or was closed in
   * the middle of a round, is terminated instead.
   */
  host<T>(init: unknown): SessionHost<T> {
    const thread = this.take();
    thread.worker.ref();
    const opened = thread.call<void>({ op: "open", init });
    let closed = false;
    // Once closed, this session's calls never reach the thread: it may already serve another.
    const call = <V>(c: Request) =>
      opened.then(() => (closed ? Promise.reject(new Error("session closed")) : thread.call<V>(c)));
    return {
      start: () => call<ProtocolMessage[]>({ op: "start" }),
      deliver: (msg) => call<ProtocolMessage[]>({ op: "deliver", msg }),
      missing: () => call<PartyId[]>({ op: "missing" }),
      settle: () => call<void>({ op: "settle" }),
      result: () => call<{ value: T } | undefined>({ op: "result" }),
      close: async () => {
        if (closed) return;
        closed = true;
        await opened.catch(() => {});
        const ended =
          !thread.dead &&
          thread.quiet &&
          this.idle.length < this.maxIdle &&
          (await thread.call<void>({ op: "end" }).then(
            () => true,
            () => false,
          ));
        if (ended) await this.release(thread);
        else await thread.terminate();
      },
    };
  }

  /** Threads waiting for a session. */
  get idleThreads(): number {
    return this.idle.length;
  }

  /** Ends every idle thread (sessions still open end their own when closed). */
  async close(): Promise<void> {
    const idle = this.idle.splice(0);
    for (const t of idle) this.forget(t);
    await Promise.all(idle.map((t) => t.terminate()));
  }
}

/** What a thread script provides for each session: the party, the first step and the round bound. */
export type ThreadSessionFactory<T> = (init: unknown) => {
  self: PartyId;
  begin: () => Step<T>;
  maxRounds: number;
};

/**
 * Serves sessions inside a worker thread, one at a time (call from the thread script): `open`
 * builds one from its description, `end` drops it (its state, secrets included, is left to the
 * garbage collector; the pool terminates a thread that stays idle, which frees it for certain).
 */
export function serveSessionThread<T>(factory: ThreadSessionFactory<T>): void {
  const port = parentPort;
  if (!port) throw new Error("serveSessionThread must run in a worker thread");
  let session: Session<T> | undefined;
  port.on("message", (c: Call) => {
    try {
      let value: unknown;
      if (c.op === "open") {
        const { self, begin, maxRounds } = factory(c.init);
        session = new Session<T>(self, begin, { maxRounds });
      } else if (c.op === "end") session = undefined;
      else if (!session) throw new Error("no session is open in this thread");
      else if (c.op === "start") value = session.start();
      else if (c.op === "deliver") value = session.deliver(c.msg);
      else if (c.op === "missing") value = session.missing();
      else if (c.op === "settle") session.settle();
      else value = session.done ? { value: session.result } : undefined;
      port.postMessage({ id: c.id, ok: true, value } satisfies Reply);
    } catch (e) {
      port.postMessage({ id: c.id, ok: false, error: errorToWire(e) } satisfies Reply);
    }
  });
}
