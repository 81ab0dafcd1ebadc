/**
 * Helper threads for the independent jobs of a session's rounds (@custody/core's `ParallelMap`),
 * for a host with cores to spare. A round is a synchronous pure function, so the map blocks: it
 * posts jobs to its helpers, runs its own share of them in the calling thread, then waits on a
 * shared counter (`Atomics.wait`) and takes each result off its channel with
 * `receiveMessageOnPort`. Only a session thread may call it: it blocks the thread it runs on.
 * Inputs and outputs cross by structured clone inside this process; a job's secrets stay in the
 * helper's heap until it is collected, and helpers end with the session thread that made them.
 * @module
 */
import {
  MessageChannel,
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  Worker,
  workerData,
} from "node:worker_threads";
import { inline, type Job, type ParallelMap, ProtocolError } from "@custody/core";
import { errorFromWire, errorToWire, type WireError } from "./thread-errors.js";

type JobRequest = { readonly name: string; readonly input: unknown };
type JobReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: WireError };

/** One helper thread: its channel and the counter it bumps after each reply. */
interface Helper {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly replies: Int32Array;
  /** Replies taken so far. */
  taken: number;
  /** Set when the thread failed or exited: it is replaced before the next map. */
  dead: boolean;
}

/** What one job call came to: its output, or the error to rethrow. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** A `ParallelMap` over up to `size` helper threads running `script` (which calls {@link serveJobThread}). */
export class JobThreads implements ParallelMap {
  private helpers: Helper[] = [];
  private busy = false;

  /**
   * @param script the helper thread's entry point
   * @param size helper threads (0: every job inline)
   * @param timeoutMs longest a map waits for its helpers; past it the map fails at once (a helper
   *   that died cannot say so to a thread that is blocked) and the helpers are replaced
   */
  constructor(
    private readonly script: URL,
    readonly size: number,
    private readonly timeoutMs = 120_000,
  ) {}

  /** Like `inputs.map(job.run)`: outputs in order, or the error of the first failing input. */
  map<I, O>(job: Job<I, O>, inputs: readonly I[]): O[] {
    const lanes = Math.min(this.size, inputs.length - 1);
    if (lanes < 1) return inline.map(job, inputs);
    if (this.busy) throw new ProtocolError("internal", "job threads are already running a map");
    this.busy = true;
    let outcomes: Outcome[];
    try {
      outcomes = this.spread(job, inputs, lanes);
    } catch (e) {
      // A reply may still be owed, so no helper's counter can be trusted any more.
      this.reset();
      throw e;
    } finally {
      this.busy = false;
    }
    // A job's own error leaves the helpers in step: they are kept.
    const failed = outcomes.find((o) => !o.ok) as { error: Error } | undefined;
    if (failed) throw failed.error;
    return outcomes.map((o) => (o as { value: O }).value);
  }

  /** Input i runs in lane i mod (lanes + 1); lane 0 is this thread. */
  private spread<I, O>(job: Job<I, O>, inputs: readonly I[], lanes: number): Outcome[] {
    const helpers = this.take(lanes);
    const lane = (i: number) => i % (lanes + 1);
    inputs.forEach((input, i) => {
      if (lane(i) > 0) helpers[lane(i) - 1]!.port.postMessage({ name: job.name, input } satisfies JobRequest);
    });
    const outcomes = inputs.map((input, i) => (lane(i) === 0 ? attempt(() => job.run(input)) : undefined));
    const deadline = Date.now() + this.timeoutMs;
    inputs.forEach((_, i) => {
      if (lane(i) > 0) outcomes[i] = this.await(helpers[lane(i) - 1]!, deadline);
    });
    return outcomes as Outcome[];
  }

  /** The first `n` helpers, started on first use (all replaced when one of them died). */
  private take(n: number): Helper[] {
    if (this.helpers.some((h) => h.dead)) this.reset();
    while (this.helpers.length < n) {
      const { port1, port2 } = new MessageChannel();
      const replies = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(this.script, { workerData: { port: port2, replies }, transferList: [port2] });
      const h: Helper = { worker, port: port1, replies, taken: 0, dead: false };
      // An uncaught error in the helper ends it: the exit that follows marks it dead. Listening
      // keeps the error from being rethrown in this thread.
      worker.on("error", () => {});
      worker.on("exit", () => {
        h.dead = true;
      });
      // A helper never keeps its session thread alive.
      worker.unref();
      port1.unref();
      this.helpers.push(h);
    }
    return this.helpers.slice(0, n);
  }

  /**
   * Blocks until `h` replies to its oldest job.
   * @throws ProtocolError `internal` when the deadline passes or the reply is missing.
   */
  private await(h: Helper, deadline: number): Outcome {
    while (Atomics.load(h.replies, 0) === h.taken) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(h.replies, 0, h.taken, left) === "timed-out")
        throw new ProtocolError("internal", "a job thread did not answer in time");
    }
    h.taken++;
    const got = receiveMessageOnPort(h.port);
    if (!got) throw new ProtocolError("internal", "a job thread's reply went missing");
    const r = got.message as JobReply;
    return r.ok ? { ok: true, value: r.value } : { ok: false, error: errorFromWire(r.error) };
  }

  /** Drops every helper. */
  private reset(): void {
    for (const h of this.helpers) {
      h.port.close();
      void h.worker.terminate();
    }
    this.helpers = [];
  }

  /** Ends the helpers. */
  async close(): Promise<void> {
    const helpers = this.helpers;
    this.helpers = [];
    await Promise.all(helpers.map((h) => h.worker.terminate()));
  }
}

function attempt(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, error: e as Error };
  }
}

/**
 * Serves jobs in a helper thread (call from its entry point): runs each request by its job's
 * name, replies on the channel, then bumps the shared counter the blocked caller waits on.
 */
export function serveJobThread(jobs: readonly Job<never, unknown>[]): void {
  if (!parentPort) throw new Error("serveJobThread must run in a worker thread");
  const { port, replies } = workerData as { port: MessagePort; replies: Int32Array };
  const byName = new Map(jobs.map((j) => [j.name, j]));
  port.on("message", (req: JobRequest) => {
    let reply: JobReply;
    try {
      const job = byName.get(req.name);
      if (!job) throw new Error(`unknown job ${req.name}`);
      reply = { ok: true, value: job.run(req.input as never) };
    } catch (e) {
      reply = { ok: false, error: errorToWire(e) };
    }
    port.postMessage(reply);
    Atomics.add(replies, 0, 1);
    Atomics.notify(replies, 0);
  });
}
