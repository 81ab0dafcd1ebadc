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
import { TENANT_NAME } from "./tenants.js";

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

/** A sighting is forgotten after this many liveness windows without a heartbeat. */
export const FORGET_AFTER_WINDOWS = 200;
/** Most workers remembered per party; a newcomer beyond it evicts the party's longest silent one. */
export const MAX_WORKERS_PER_PARTY = 64;
/** Most workers remembered in all; beyond it the longest silent one anywhere is evicted. */
export const MAX_SIGHTINGS = 1024;
/** Most tenants kept of one heartbeat (valid tenant names only, the first ones). */
export const MAX_TENANTS_PER_WORKER = 4096;

const windowOf = (w: WorkerSighting) => w.intervalMs * MISSED_HEARTBEATS;
const keyOf = (w: WorkerSighting) => `${w.party}/${w.workerId}`;
/** The first (longest silent) worker of a non-empty map. */
const first = (workers: Map<string, WorkerSighting>) => workers.values().next().value as WorkerSighting;

/**
 * Tracks heartbeats and answers which parties are live. Memory is bounded whatever a party host
 * publishes: a worker silent for {@link FORGET_AFTER_WINDOWS} liveness windows is forgotten, and
 * at most {@link MAX_WORKERS_PER_PARTY} workers per party (and {@link MAX_SIGHTINGS} in all) are
 * kept, the longest silent evicted first, so one party's ids never push out another party's workers
 * (workers publish under their own party only); a heartbeat's tenants are kept only when they are
 * valid tenant names, at most {@link MAX_TENANTS_PER_WORKER} of them.
 */
export class LivenessTracker {
  /** Every worker, in the order last heard (a heartbeat moves its worker to the end). */
  private readonly all = new Map<string, WorkerSighting>();
  /** The same workers per party, in the same order. */
  private readonly parties = new Map<number, Map<string, WorkerSighting>>();
  private prunedAt = 0;
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
          this.see({
            party: hb.party,
            workerId: hb.workerId,
            lastSeenMs: Date.now(),
            intervalMs,
            activeSessions: hb.activeSessions,
            tenants: [...new Set(hb.tenants.filter((t) => TENANT_NAME.test(t)))].slice(
              0,
              MAX_TENANTS_PER_WORKER,
            ),
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

  /** Workers heard lately (within {@link FORGET_AFTER_WINDOWS} windows), live or not, with when last heard. */
  sightings(now = Date.now()): WorkerSighting[] {
    this.prune(now);
    return [...this.all.values()];
  }

  /** Workers seen within their liveness window. */
  liveWorkers(now = Date.now()): WorkerSighting[] {
    return this.sightings(now).filter((w) => now - w.lastSeenMs <= windowOf(w));
  }

  /** Parties with at least one live worker (serving `tenant`, when given), ascending. */
  liveParties(tenant?: string, now = Date.now()): number[] {
    const workers = this.liveWorkers(now).filter((w) => tenant === undefined || w.tenants.includes(tenant));
    return [...new Set(workers.map((w) => w.party))].sort((a, b) => a - b);
  }

  private see(w: WorkerSighting): void {
    this.forget(w);
    this.all.set(keyOf(w), w);
    const workers = this.parties.get(w.party) ?? new Map<string, WorkerSighting>();
    this.parties.set(w.party, workers);
    workers.set(w.workerId, w);
    if (workers.size > MAX_WORKERS_PER_PARTY) this.forget(first(workers));
    if (this.all.size > MAX_SIGHTINGS) this.forget(first(this.all));
    if (w.lastSeenMs - this.prunedAt >= 1000) this.prune(w.lastSeenMs);
  }

  private forget(w: WorkerSighting): void {
    this.all.delete(keyOf(w));
    const workers = this.parties.get(w.party);
    workers?.delete(w.workerId);
    if (workers?.size === 0) this.parties.delete(w.party);
  }

  /** Forgets workers silent for {@link FORGET_AFTER_WINDOWS} liveness windows. */
  private prune(now: number): void {
    this.prunedAt = now;
    for (const w of this.all.values())
      if (now - w.lastSeenMs > windowOf(w) * FORGET_AFTER_WINDOWS) this.forget(w);
  }
}
