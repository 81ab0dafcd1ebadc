/**
 * An in-memory index of the operations bucket, kept current by a watch: which operations are
 * pending (and since when) and which failed (newest last). Rebuilt from the bucket on every start;
 * the watch resumes after its last revision when the broker drops it (reconnect, failover).
 * @module
 */
import type { Logger } from "pino";
import type { OperationRecord, OperationType } from "./records.js";
import type { OperationWatch, Repository } from "./repository.js";

/** A pending operation as the index keeps it. */
export interface PendingOperation {
  readonly id: string;
  readonly type: OperationType;
  readonly createdAtMs: number;
}

/** Failed operations kept in memory at most (the oldest are forgotten first). */
const MAX_FAILED_KEPT = 10_000;

/** Follows every operation record. */
export class OperationIndex {
  private readonly pendingOps = new Map<string, PendingOperation & { enqueued: boolean }>();
  private readonly failedOps = new Map<string, OperationRecord>();
  private watch: OperationWatch | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private lastRevision = 0;
  private readonly settledListeners: ((id: string) => void)[] = [];

  constructor(
    private readonly repo: Repository,
    private readonly log: Logger,
  ) {}

  /** Starts following the bucket (returns at once; the index fills in the background). */
  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          this.watch = await this.repo.watchOperations(this.lastRevision);
          for await (const { revision, operation } of this.watch.entries) {
            this.lastRevision = revision;
            if (operation) this.record(operation);
          }
        } catch (e) {
          if (!this.stopped) this.log.warn({ err: String(e) }, "operations watch failed: resuming");
        }
        if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    })();
  }

  /** Stops following. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.stop();
    await this.loop;
  }

  /** Pending operations created before `beforeMs` (epoch ms) not yet seen in the work queue, oldest first. */
  unconfirmedBefore(beforeMs: number): PendingOperation[] {
    return [...this.pendingOps.values()]
      .filter((p) => !p.enqueued && p.createdAtMs < beforeMs)
      .sort((a, b) => a.createdAtMs - b.createdAtMs)
      .map(({ id, type, createdAtMs }) => ({ id, type, createdAtMs }));
  }

  /** Notes that a pending operation's work item is in the work queue (no need to check it again). */
  confirmEnqueued(id: string): void {
    const p = this.pendingOps.get(id);
    if (p) p.enqueued = true;
  }

  /** Calls `listener` with the id of every operation seen leaving (or past) `pending`. */
  onSettled(listener: (id: string) => void): void {
    this.settledListeners.push(listener);
  }

  /** True while the operation is known to be pending. */
  isPending(id: string): boolean {
    return this.pendingOps.has(id);
  }

  /** Failed operations of `tenant`, newest first. */
  failed(tenant: string, limit: number): OperationRecord[] {
    const out: OperationRecord[] = [];
    for (const op of [...this.failedOps.values()].reverse()) {
      if (out.length >= limit) break;
      if (op.tenant === tenant) out.push(op);
    }
    return out;
  }

  private record(op: OperationRecord): void {
    if (op.status === "pending") {
      if (!this.pendingOps.has(op.id))
        this.pendingOps.set(op.id, {
          id: op.id,
          type: op.type,
          createdAtMs: Date.parse(op.createdAt),
          enqueued: false,
        });
      return;
    }
    this.pendingOps.delete(op.id);
    for (const l of this.settledListeners) l(op.id);
    if (op.status !== "failed") return;
    this.failedOps.delete(op.id);
    this.failedOps.set(op.id, op);
    if (this.failedOps.size > MAX_FAILED_KEPT) {
      const oldest = this.failedOps.keys().next().value;
      if (oldest !== undefined) this.failedOps.delete(oldest);
    }
  }
}
