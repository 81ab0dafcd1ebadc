/**
 * An in-memory index of the operations bucket, kept current by a watch: which operations are
 * pending (and since when), which failed (newest last), and the newest operations for listing.
 * Rebuilt from the bucket on every start; the watch resumes after its last revision when the
 * broker drops it (reconnect, failover).
 * @module
 */
import type { Logger } from "pino";
import type { OperationRecord, OperationStatus, OperationType } from "./records.js";
import type { OperationWatch, Repository } from "./repository.js";

/** Filter and page of an operation listing. */
export interface OperationQuery {
  readonly status?: OperationStatus;
  readonly type?: OperationType;
  readonly keyId?: string;
  /** Page size. */
  readonly limit: number;
  /** Opaque position after which the page starts (the `next` of the previous page). */
  readonly cursor?: string;
}

/** One page of operations, newest first. */
export interface OperationPage {
  readonly operations: OperationRecord[];
  /** Cursor of the next page; absent on the last one. */
  readonly next?: string;
}

/** Thrown for a cursor this index did not hand out. */
export class BadCursorError extends Error {
  override readonly name = "BadCursorError";
}

/** Newest first: by creation time, then by id. */
const newestFirst = (a: OperationRecord, b: OperationRecord) =>
  a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1;

const encodeCursor = (op: OperationRecord) =>
  Buffer.from(JSON.stringify([op.createdAt, op.id])).toString("base64url");

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string")
      return { createdAt: v[0], id: v[1] };
  } catch {
    // refused below
  }
  throw new BadCursorError("the cursor is not one this API returned");
}

/** A pending operation as the index keeps it. */
export interface PendingOperation {
  readonly id: string;
  readonly type: OperationType;
  readonly createdAtMs: number;
}

/** Failed operations kept in memory at most (the oldest are forgotten first). */
const MAX_FAILED_KEPT = 10_000;
/** Operations kept for listing at most (the least recently written are forgotten first). */
export const MAX_LISTED = 50_000;

/** Follows every operation record. */
export class OperationIndex {
  private readonly pendingOps = new Map<string, PendingOperation & { enqueued: boolean }>();
  private readonly failedOps = new Map<string, OperationRecord>();
  private readonly recentOps = new Map<string, OperationRecord>();
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

  /**
   * A page of `tenant`'s operations (the newest {@link MAX_LISTED} of every tenant served here),
   * newest first, filtered by status, type and key.
   * @throws BadCursorError for a cursor that does not decode
   */
  list(tenant: string, q: OperationQuery): OperationPage {
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const matching = [...this.recentOps.values()]
      .filter(
        (op) =>
          op.tenant === tenant &&
          (q.status === undefined || op.status === q.status) &&
          (q.type === undefined || op.type === q.type) &&
          (q.keyId === undefined || op.keyId === q.keyId) &&
          (after === undefined ||
            op.createdAt < after.createdAt ||
            (op.createdAt === after.createdAt && op.id < after.id)),
      )
      .sort(newestFirst);
    const operations = matching.slice(0, q.limit);
    const last = operations[operations.length - 1];
    return matching.length > q.limit && last ? { operations, next: encodeCursor(last) } : { operations };
  }

  private record(op: OperationRecord): void {
    this.recentOps.delete(op.id);
    this.recentOps.set(op.id, op);
    if (this.recentOps.size > MAX_LISTED) {
      const oldest = this.recentOps.keys().next().value;
      if (oldest !== undefined) this.recentOps.delete(oldest);
    }
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
