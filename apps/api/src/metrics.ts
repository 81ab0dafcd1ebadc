/**
 * The API's Prometheus metrics: operation latency from acceptance to its end by type, scheme and
 * outcome; how long DKG and refresh spend in each phase; requests by route and status; refused
 * requests by reason (rate-limited, unauthorized with its reason, forbidden, ...); party results the
 * API's own check refused; live parties and workers as the heartbeats show them.
 * @module
 */
import type { LivenessTracker } from "@custody/runtime";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { OperationRecord } from "./domain/records.js";

const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The metrics of one API process. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly operations = new Histogram({
    name: "custody_api_operation_duration_seconds",
    help: "Accepted operations from acceptance to their terminal state, by type, scheme and outcome (succeeded, or the failure code)",
    labelNames: ["type", "scheme", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly phases = new Histogram({
    name: "custody_api_operation_phase_seconds",
    help: "Time DKG and refresh operations spent in each progress phase",
    labelNames: ["type", "phase"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly requests = new Counter({
    name: "custody_api_requests_total",
    help: "HTTP requests by method, route and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [this.registry],
  });
  private readonly refused = new Counter({
    name: "custody_api_refused_requests_total",
    help: "Requests answered with a problem, by problem code and reason (e.g. unauthorized/replayed, rate-limited)",
    labelNames: ["code", "reason"] as const,
    registers: [this.registry],
  });
  private readonly rejectedResults = new Counter({
    name: "custody_api_rejected_results_total",
    help: "Party results the API's own check refused, by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  constructor(liveness?: LivenessTracker) {
    collectDefaultMetrics({ register: this.registry });
    if (!liveness) return;
    new Gauge({
      name: "custody_api_live_parties",
      help: "Parties with at least one live worker (heartbeats within their window)",
      registers: [this.registry],
      collect() {
        this.set(liveness.liveParties().length);
      },
    });
    new Gauge({
      name: "custody_api_live_workers",
      help: "Workers whose heartbeats arrive within their window",
      registers: [this.registry],
      collect() {
        this.set(liveness.liveWorkers().length);
      },
    });
  }

  /** An operation reached its terminal state. */
  operationFinished(op: OperationRecord, scheme: string): void {
    const seconds = (Date.parse(op.updatedAt) - Date.parse(op.createdAt)) / 1000;
    const outcome = op.status === "succeeded" ? "succeeded" : (op.error?.code ?? "failed");
    if (Number.isFinite(seconds))
      this.operations.observe({ type: op.type, scheme, outcome }, Math.max(0, seconds));
  }

  /** A DKG or refresh left `phase` after `seconds`. */
  phaseLeft(type: string, phase: string, seconds: number): void {
    this.phases.observe({ type, phase }, seconds);
  }

  /** A party result was refused by the API's check. */
  resultRejected(code: string): void {
    this.rejectedResults.inc({ code });
  }

  /** An HTTP request was answered. */
  request(method: string, route: string, status: number, problem?: { code: string; reason?: string }): void {
    this.requests.inc({ method, route, status: String(status) });
    if (problem) this.refused.inc({ code: problem.code, reason: problem.reason ?? "" });
  }
}
