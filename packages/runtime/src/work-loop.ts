/**
 * A party worker's loop over its party's durable consumer. Each slot pulls one work item at a time
 * (so no ack clock runs for work waiting in a buffer), reports progress while the job runs, and acks
 * only after the result was durably published. Retryable failures are nak'ed with a backoff;
 * permanent failures, and the last allowed delivery, publish a typed failure result and terminate.
 * @module
 */
import {
  create,
  FailureSchema,
  fromBinary,
  partyConsumer,
  REQUEST_STREAM,
  type WorkItem,
  WorkItemSchema,
  type WorkResult,
  WorkResultSchema,
} from "@custody/proto";
import { type JetStreamClient, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { WORK_DEFAULTS } from "./provision.js";
import { pullEach } from "./pull.js";
import { findResult, publishResult } from "./results.js";

/** What a handler gets for one delivery of a work item. */
export interface WorkContext {
  readonly item: WorkItem;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** Aborted when the worker shuts down or loses its connection. */
  readonly signal: AbortSignal;
}

/** A failure that retrying cannot fix; published as the party's final result. */
export class PermanentFailure extends Error {
  override readonly name = "PermanentFailure";
  constructor(
    readonly code: string,
    message: string,
    readonly culprits: readonly number[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Runs one work item; returns this party's result (published before the ack). */
export type WorkHandler = (ctx: WorkContext) => Promise<WorkResult>;

/** Minimal structured logger (pino-compatible subset). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of a {@link WorkLoop}. */
export interface WorkLoopOptions {
  readonly nc: NatsConnection;
  readonly party: number;
  readonly workerId: string;
  readonly handler: WorkHandler;
  readonly log: Logger;
  /** Concurrent jobs of this worker. Default 4. */
  readonly slots?: number;
  /** Must equal the consumer's max_deliver. */
  readonly maxDeliver?: number;
  /** Interval of `working()` progress signals. Default 10 s (a third of the ack wait). */
  readonly progressMs?: number;
  /** Classifies an error: retryable (nak) or permanent (failure result + term). */
  readonly classify?: (e: unknown) => PermanentFailure | undefined;
  /** Told how every delivery ended (for metrics). */
  readonly onOutcome?: (o: JobOutcome) => void;
}

/** How one delivery of a work item ended. */
export interface JobOutcome {
  readonly item: WorkItem;
  readonly deliveryCount: number;
  /** `done`: a result was published (or found); `failed`: a final failure; `retry`: nak'ed. */
  readonly outcome: "done" | "failed" | "retry";
  /** The result's case for `done`, the failure code for `failed`. */
  readonly code?: string;
  /** What the job threw (`failed` and `retry`). */
  readonly error?: unknown;
  readonly durationMs: number;
}

/** Pulls and runs work items until stopped. */
export class WorkLoop {
  private stopped = false;
  private controller = new AbortController();
  private running: Promise<void>[] = [];
  private js: JetStreamClient;
  private active = 0;

  constructor(private readonly o: WorkLoopOptions) {
    this.js = jetstream(o.nc, { timeout: 5000 });
  }

  /** Jobs running right now. */
  get activeJobs(): number {
    return this.active;
  }

  /** Starts the slots. */
  async start(): Promise<void> {
    const consumer = await this.js.consumers.get(REQUEST_STREAM, partyConsumer(this.o.party));
    for (let i = 0; i < (this.o.slots ?? 4); i++) {
      this.running.push(
        pullEach(consumer, {
          expiresMs: 5000,
          stopped: () => this.stopped,
          log: this.o.log,
          what: "work item",
          handle: (msg) => this.handle(msg),
        }),
      );
    }
  }

  /** Aborts running jobs when `abortRunning` (else lets them finish) and stops pulling. */
  async stop(abortRunning = false): Promise<void> {
    this.stopped = true;
    if (abortRunning) this.abortRunning();
    await Promise.allSettled(this.running);
  }

  /** The party consumer's backlog as the broker reports it (shared by every worker of the party). */
  async consumerState(): Promise<{ pending: number; ackPending: number; redelivered: number }> {
    const info = await (await this.js.consumers.get(REQUEST_STREAM, partyConsumer(this.o.party))).info(true);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  }

  /** Aborts every running job (their items are nak'ed and retried elsewhere). */
  abortRunning(): void {
    this.controller.abort();
    this.controller = new AbortController();
  }

  private async handle(msg: JsMsg): Promise<void> {
    const { log, party } = this.o;
    let item: WorkItem;
    try {
      item = fromBinary(WorkItemSchema, msg.data);
      if (!item.operationId || item.op.case === undefined) throw new Error("incomplete work item");
    } catch (e) {
      log.error({ subject: msg.subject, err: String(e) }, "undecodable work item: terminated");
      msg.term();
      return;
    }
    const deliveryCount = msg.info.deliveryCount;
    const ctxLog = { operationId: item.operationId, op: item.op.case, deliveryCount };
    this.active++;
    const started = performance.now();
    const tell = (o: Omit<JobOutcome, "item" | "deliveryCount" | "durationMs">) =>
      this.o.onOutcome?.({ item, deliveryCount, durationMs: performance.now() - started, ...o });
    const progress = setInterval(() => msg.working(), this.o.progressMs ?? 10_000);
    try {
      const earlier = await findResult(this.js, item.operationId, party);
      const result =
        earlier ?? (await this.o.handler({ item, deliveryCount, signal: this.controller.signal }));
      if (earlier) log.info(ctxLog, "result already published: not running again");
      else await publishResult(this.js, result);
      // A plain ack, not a confirmed one: the result is durable already, so a lost ack only means
      // a redelivery, which finds that result and does not run again.
      msg.ack();
      log.info({ ...ctxLog, outcome: result.outcome.case }, "work item done");
      tell({ outcome: "done", code: result.outcome.case });
    } catch (e) {
      const permanent = e instanceof PermanentFailure ? e : this.o.classify?.(e);
      const maxDeliver = this.o.maxDeliver ?? WORK_DEFAULTS.maxDeliver;
      if (permanent || deliveryCount >= maxDeliver) {
        const f = permanent ?? new PermanentFailure("retries-exhausted", errorText(e), culpritsOf(e));
        log.warn({ ...ctxLog, code: f.code, err: f.message }, "work item failed permanently");
        try {
          await publishResult(
            this.js,
            create(WorkResultSchema, {
              operationId: item.operationId,
              party,
              outcome: {
                case: "failure",
                value: create(FailureSchema, { code: f.code, message: f.message, culprits: [...f.culprits] }),
              },
            }),
          );
          msg.term();
          tell({ outcome: "failed", code: f.code, error: e });
        } catch (pe) {
          log.error({ ...ctxLog, err: String(pe) }, "could not publish failure: will be redelivered");
          msg.nak(2000);
        }
      } else {
        log.warn({ ...ctxLog, err: errorText(e) }, "work item failed: retrying");
        msg.nak(Math.min(500 * 2 ** (deliveryCount - 1), 10_000));
        tell({ outcome: "retry", error: e });
      }
    } finally {
      clearInterval(progress);
      this.active--;
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function culpritsOf(e: unknown): readonly number[] {
  const c = (e as { culprits?: unknown }).culprits;
  return Array.isArray(c) ? c.filter((x): x is number => typeof x === "number") : [];
}
