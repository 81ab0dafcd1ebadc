/**
 * The audit chain's verification status, as the console shows it. The links are checked
 * incrementally: each check resumes after the last entry that linked and reads at most `batch`
 * entries, one check runs at a time, and a status younger than `maxAgeMs` is served as it is, so
 * any number of callers cost the stream a bounded read. Each check first makes sure the last
 * verified entry is still there with its hash, so a stream deleted and recreated (or cut back) reads
 * as broken, never as intact. A broken link stays reported (the stream denies delete and purge: a
 * break does not heal); a check that could not read the stream reads as `unavailable` and the next
 * one retries from the same place. `custody audit verify` re-reads the whole chain.
 * @module
 */
import type { AuditCursor, AuditRangeVerification } from "@custody/runtime";

/** What the console shows of the audit chain. */
export interface AuditChainStatus {
  /**
   * `intact`: every entry in the stream when read links; `verifying`: no broken link so far, older
   * entries still being checked; `broken`: a link does not hold; `unavailable`: the stream could not be read.
   */
  readonly status: "intact" | "verifying" | "broken" | "unavailable";
  /** Entries checked whose links hold. */
  readonly verified: number;
  /** Entries in the stream when last read. */
  readonly entries: number;
  /** When the chain was last read (ISO). */
  readonly checkedAt: string;
  /** Sequence of the first entry whose link does not hold. */
  readonly brokenAt?: number;
  readonly reason?: string;
}

/** Checks links after `from`, at most `limit` of them (the API's {@link AuditLog.verify}). */
export type AuditVerifier = (from: AuditCursor | undefined, limit: number) => Promise<AuditRangeVerification>;

/** Options of {@link AuditWatch}. */
export interface AuditWatchOptions {
  /** Most entries one check reads. Default 5000. */
  readonly batch?: number;
  /** How long a status is served before the next check. Default 2 s. */
  readonly maxAgeMs?: number;
}

/** Keeps the audit chain's verification status, checking new entries on demand. */
export class AuditWatch {
  private cursor: AuditCursor | undefined;
  private last: AuditChainStatus | undefined;
  private lastAt = 0;
  private running: Promise<AuditChainStatus> | undefined;

  constructor(
    private readonly verify: AuditVerifier,
    private readonly o: AuditWatchOptions = {},
  ) {}

  /** The current status; checks the entries appended since the last check when it is stale. */
  status(): Promise<AuditChainStatus> {
    if (this.last && (this.last.status === "broken" || Date.now() - this.lastAt < (this.o.maxAgeMs ?? 2000)))
      return Promise.resolve(this.last);
    this.running ??= this.check().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async check(): Promise<AuditChainStatus> {
    const checkedAt = new Date().toISOString();
    let status: AuditChainStatus;
    try {
      const v = await this.verify(this.cursor, this.o.batch ?? 5000);
      this.cursor = v.cursor;
      const seen = { verified: v.entries, entries: v.lastSeq, checkedAt };
      const head = v.cursor?.seq ?? 0;
      if (v.brokenAt !== undefined)
        status = { status: "broken", ...seen, brokenAt: v.brokenAt, reason: v.reason };
      else if (head > v.lastSeq || v.entries > v.lastSeq)
        // More entries verified than the stream holds: it was cut back or recreated.
        status = { status: "broken", ...seen, brokenAt: head, reason: "chain shorter than verified" };
      else status = { status: head === v.lastSeq ? "intact" : "verifying", ...seen };
    } catch {
      status = {
        status: "unavailable",
        verified: this.cursor?.entries ?? 0,
        entries: this.last?.entries ?? 0,
        checkedAt,
        reason: "the audit stream could not be read",
      };
    }
    this.last = status;
    this.lastAt = Date.now();
    return status;
  }
}
