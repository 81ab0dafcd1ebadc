/**
 * The worker's Prometheus metrics: jobs by operation, scheme and outcome with their durations,
 * protocol aborts by kind and culprit (round timeouts among them, never blaming anyone), retries,
 * running jobs, and each tenant's party consumer backlog (pending, waiting for an ack, redelivered)
 * read from the broker at scrape time.
 * @module
 */
import { ProtocolError } from "@custody/core";
import { type JobOutcome, PermanentFailure } from "@custody/runtime";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** What a scrape asks each served tenant. */
export interface TenantBacklog {
  readonly tenant: string;
  consumerState(): Promise<{ pending: number; ackPending: number; redelivered: number }>;
  readonly activeJobs: number;
}

/** The abort kind and culprits of a failed job, when it was a protocol abort. */
function abortOf(e: unknown): { kind: string; culprits: readonly number[] } | undefined {
  if (e instanceof ProtocolError) return { kind: e.kind, culprits: e.culprits };
  if (e instanceof PermanentFailure && e.code.startsWith("protocol-"))
    return { kind: e.code.slice("protocol-".length), culprits: e.culprits };
  return undefined;
}

/** The metrics of one worker process. */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly jobs = new Counter({
    name: "custody_worker_jobs_total",
    help: "Deliveries of work items by operation, scheme and outcome (done, failed, retry) and result or failure code",
    labelNames: ["op", "scheme", "outcome", "code"] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "custody_worker_job_duration_seconds",
    help: "Time from taking a work item to its outcome, by operation, scheme and outcome",
    labelNames: ["op", "scheme", "outcome"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly aborts = new Counter({
    name: "custody_worker_protocol_aborts_total",
    help: "Protocol aborts by kind (timeout, mismatch, bad-message, security, ...) and culprit party (none when nobody is provably at fault)",
    labelNames: ["op", "kind", "culprit"] as const,
    registers: [this.registry],
  });

  constructor(tenants: () => readonly TenantBacklog[]) {
    collectDefaultMetrics({ register: this.registry });
    const backlog = (
      name: string,
      help: string,
      pick: (s: Awaited<ReturnType<TenantBacklog["consumerState"]>>) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ["tenant"] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const t of tenants()) {
            const state = await t.consumerState().catch(() => undefined);
            if (state) this.set({ tenant: t.tenant }, pick(state));
          }
        },
      });
    backlog(
      "custody_worker_consumer_pending",
      "Work items of the party consumer not yet delivered",
      (s) => s.pending,
    );
    backlog(
      "custody_worker_consumer_ack_pending",
      "Work items delivered to the party's workers and not yet acknowledged",
      (s) => s.ackPending,
    );
    backlog(
      "custody_worker_consumer_redelivered",
      "Work items of the party consumer delivered more than once",
      (s) => s.redelivered,
    );
    new Gauge({
      name: "custody_worker_active_jobs",
      help: "Jobs this worker is running",
      labelNames: ["tenant"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of tenants()) this.set({ tenant: t.tenant }, t.activeJobs);
      },
    });
  }

  /** Records how one delivery ended. */
  record(o: JobOutcome): void {
    const op = o.item.op.case ?? "none";
    const scheme = o.item.scheme || "none";
    this.jobs.inc({ op, scheme, outcome: o.outcome, code: o.code ?? "" });
    this.duration.observe({ op, scheme, outcome: o.outcome }, o.durationMs / 1000);
    const abort = abortOf(o.error);
    if (abort === undefined) return;
    const culprits = abort.culprits.length > 0 ? abort.culprits.map(String) : ["none"];
    for (const culprit of culprits) this.aborts.inc({ op, kind: abort.kind, culprit });
  }
}
