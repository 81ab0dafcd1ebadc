/**
 * Liveness over NATS Core: workers publish heartbeats; the API tracks which parties have a live
 * worker and picks signer sets from them. Heartbeats are never persisted.
 * @module
 */
import {
  create,
  fromBinary,
  HeartbeatSchema,
  heartbeatSubject,
  heartbeatWildcard,
  toBinary,
} from "@custody/proto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/** A worker counts as dead after this many missed heartbeat intervals. */
export const MISSED_HEARTBEATS = 3;

/** Publishes a worker's heartbeat every `intervalMs` until stopped. */
export class HeartbeatPublisher {
  private seq = 0n;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly party: number,
    private readonly workerId: string,
    private readonly intervalMs: number,
    private readonly activeSessions: () => number,
    private readonly tenants: () => string[] = () => [],
    private readonly version = "0.1.0",
  ) {}

  /** Sends one heartbeat now and then periodically. */
  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops publishing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends one heartbeat now (e.g. right after the worker starts serving another tenant). */
  beat(): void {
    if (this.nc.isClosed()) return;
    const hb = create(HeartbeatSchema, {
      party: this.party,
      workerId: this.workerId,
      seq: this.seq++,
      activeSessions: this.activeSessions(),
      intervalMs: this.intervalMs,
      sentAtMs: BigInt(Date.now()),
      version: this.version,
      tenants: this.tenants(),
    });
    this.nc.publish(heartbeatSubject(this.party, this.workerId), toBinary(HeartbeatSchema, hb));
  }
}

/** One worker as last seen. */
export interface WorkerSighting {
  readonly party: number;
  readonly workerId: string;
  readonly lastSeenMs: number;
  readonly intervalMs: number;
  readonly activeSessions: number;
  /** Tenants the worker serves. */
  readonly tenants: readonly string[];
}

/** Tracks heartbeats and answers which parties are live. */
export class LivenessTracker {
  private readonly workers = new Map<string, WorkerSighting>();
  private sub: Subscription | undefined;

  constructor(private readonly nc: NatsConnection) {}

  /** Subscribes to every heartbeat. */
  start(): void {
    this.sub = this.nc.subscribe(heartbeatWildcard, {
      callback: (err, m) => {
        if (err) return;
        try {
          const hb = fromBinary(HeartbeatSchema, m.data);
          const tokens = m.subject.split(".");
          if (Number(tokens[2]) !== hb.party || tokens[3] !== hb.workerId) return;
          const intervalMs = Math.min(Math.max(hb.intervalMs, 100), 60_000);
          this.workers.set(`${hb.party}/${hb.workerId}`, {
            party: hb.party,
            workerId: hb.workerId,
            lastSeenMs: Date.now(),
            intervalMs,
            activeSessions: hb.activeSessions,
            tenants: hb.tenants,
          });
        } catch {
          // malformed heartbeat: ignore
        }
      },
    });
  }

  /** Stops tracking. */
  stop(): void {
    this.sub?.unsubscribe();
  }

  /** Every worker seen since the tracker started, live or not, with when it was last heard. */
  sightings(): WorkerSighting[] {
    return [...this.workers.values()];
  }

  /** Workers seen within their liveness window. */
  liveWorkers(now = Date.now()): WorkerSighting[] {
    return [...this.workers.values()].filter((w) => now - w.lastSeenMs <= w.intervalMs * MISSED_HEARTBEATS);
  }

  /** Parties with at least one live worker (serving `tenant`, when given), ascending. */
  liveParties(tenant?: string, now = Date.now()): number[] {
    const workers = this.liveWorkers(now).filter((w) => tenant === undefined || w.tenants.includes(tenant));
    return [...new Set(workers.map((w) => w.party))].sort((a, b) => a - b);
  }
}
