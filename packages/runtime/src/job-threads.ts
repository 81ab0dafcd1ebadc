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
}

/** What one job call came to: its output, or the error to rethrow. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** A `ParallelMap` over up to `size` helper threads running `script` (which calls {@link serveJobThread}). */
export class JobThreads implements ParallelMap {
  private helpers: Helper[] = [];

  /**
   * @param script the helper thread's entry point
   * @param size helper threads (0: every job inline)
   * @param timeoutMs longest wait for one helper's reply; past it the map fails (a helper that
   *   died cannot say so to a thread that is blocked) and the helpers are replaced
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
    const helpers = this.take(lanes);
    // Input i runs in lane i mod (lanes + 1); lane 0 is this thread.
    const outcomes: Outcome[] = new Array(inputs.length);
    inputs.forEach((input, i) => {
      const lane = i % (lanes + 1);
      if (lane > 0) helpers[lane - 1]!.port.postMessage({ name: job.name, input } satisfies JobRequest);
    });
    inputs.forEach((input, i) => {
      if (i % (lanes + 1) === 0) outcomes[i] = attempt(() => job.run(input));
    });
    inputs.forEach((_, i) => {
      const lane = i % (lanes + 1);
      if (lane > 0) outcomes[i] = this.await(helpers[lane - 1]!);
    });
    const failed = outcomes.find((o) => !o.ok);
    if (failed) throw failed.error;
    return outcomes.map((o) => (o as { value: O }).value);
  }

  /** The first `n` helpers, started on first use. */
  private take(n: number): Helper[] {
    while (this.helpers.length < n) {
      const { port1, port2 } = new MessageChannel();
      const replies = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(this.script, { workerData: { port: port2, replies }, transferList: [port2] });
      // A helper never keeps its session thread alive.
      worker.unref();
      port1.unref();
      this.helpers.push({ worker, port: port1, replies, taken: 0 });
    }
    return this.helpers.slice(0, n);
  }

  /** Blocks until `h` replies to its oldest job. */
  private await(h: Helper): Outcome {
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(h.replies, 0) === h.taken) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(h.replies, 0, h.taken, left) === "timed-out") {
        this.reset();
        return { ok: false, error: new ProtocolError("internal", "a job thread did not answer in time") };
      }
    }
    h.taken++;
    const got = receiveMessageOnPort(h.port);
    if (!got) {
      this.reset();
      return { ok: false, error: new ProtocolError("internal", "a job thread's reply went missing") };
    }
    const r = got.message as JobReply;
    return r.ok ? { ok: true, value: r.value } : { ok: false, error: errorFromWire(r.error) };
  }

  /** Drops every helper (one stopped answering, so none of their counters can be trusted). */
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
