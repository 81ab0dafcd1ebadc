/**
 * The audit trail: every API request and every operation outcome, appended to a JetStream stream as
 * a hash chain. Entry n stores `hash_n = SHA-256(frame("custody/audit/v1", hash_{n-1}, entry_n))`,
 * so deleting, reordering or editing any entry breaks every later link; the stream also denies
 * delete and purge. Appends use optimistic concurrency on the stream's last sequence, so several
 * API instances extend one chain.
 * @module
 */
import { frame } from "@custody/core";
import { AUDIT_STREAM, auditSubject } from "@custody/proto";
import { JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/** What happened, as recorded. Never holds secrets (no messages' key material, no seeds). */
export interface AuditEntry {
  /** ISO time. */
  readonly at: string;
  /** Who: credential subject, name, role, tenant (absent for unauthenticated requests). */
  readonly actor?: {
    readonly sub: string;
    readonly name: string;
    readonly role: string;
    readonly tenant: string;
  };
  /** Tenant of an operation's outcome (requests name it in `actor`). */
  readonly tenant?: string;
  /** `http` for a request, `outcome` for an operation's end, `rejected-result` for a party result the API refused. */
  readonly kind: "http" | "outcome" | "rejected-result";
  /** E.g. `POST /v1/keys/{id}/sign` or `sign`. */
  readonly action: string;
  readonly keyId?: string;
  readonly operationId?: string;
  /** HTTP status, or `succeeded` / `failed`. */
  readonly result: string;
  /** Short machine-readable reason (problem type, failure code). */
  readonly reason?: string;
}

/** A stored chain link. */
export interface AuditRecord {
  readonly prev: string;
  readonly hash: string;
  readonly entry: AuditEntry;
}

const GENESIS = "0".repeat(64);
const enc = new TextEncoder();

/** The hash of `entry` chained after `prev`. */
export function chainHash(prev: string, entry: AuditEntry): string {
  return bytesToHex(sha256(frame("custody/audit/v1", [prev, JSON.stringify(entry)])));
}

/** The chain's last link as this process knows it: its stream sequence and hash. */
interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * Appends entries to the chain (serialised within this process, CAS across processes). The head
 * this process wrote last is remembered, so an append is one publish expecting that sequence; only
 * when another writer got in between (`wrong last sequence`), or a publish failed, is the head read
 * again from the stream.
 */
export class AuditLog {
  private queue: Promise<void> = Promise.resolve();
  private head: ChainHead | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  /** Queues `entry`; resolves once it is stored (rejections go to `onError`). */
  append(entry: AuditEntry): Promise<void> {
    this.queue = this.queue.then(() => this.write(entry)).catch((e) => this.onError(e));
    return this.queue;
  }

  /** Checks the chain's links after `from`, at most `limit` of them (see {@link verifyAuditRange}). */
  verify(from?: AuditCursor, limit?: number): Promise<AuditRangeVerification> {
    return verifyAuditRange(this.js, from, limit);
  }

  /** The stream's last link (genesis at sequence 0 for an empty stream). */
  private async readHead(): Promise<ChainHead> {
    const stream = await this.js.streams.get(AUDIT_STREAM);
    const last = await stream.getMessage({ last_by_subj: auditSubject }).catch(() => null);
    if (!last) return { seq: 0, hash: GENESIS };
    return { seq: last.seq, hash: (JSON.parse(new TextDecoder().decode(last.data)) as AuditRecord).hash };
  }

  private async write(entry: AuditEntry): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const head = this.head ?? (await this.readHead());
      // Forgotten until this publish is acknowledged: a failed or unanswered one may or may not be stored.
      this.head = undefined;
      const record: AuditRecord = { prev: head.hash, hash: chainHash(head.hash, entry), entry };
      try {
        const ack = await this.js.publish(auditSubject, enc.encode(JSON.stringify(record)), {
          expect: { lastSequence: head.seq },
          timeout: 5000,
        });
        this.head = { seq: ack.seq, hash: record.hash };
        return;
      } catch (e) {
        if (!(e instanceof JetStreamApiError) || !String(e.message).includes("wrong last sequence")) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 20));
      }
    }
    throw new Error("could not append to the audit chain");
  }
}

/** Outcome of {@link verifyAuditChain}. */
export interface AuditVerification {
  readonly entries: number;
  /** Sequence of the first entry whose link does not hold, if any. */
  readonly brokenAt?: number;
  readonly reason?: string;
}

/** Where a verification stopped: the last entry that linked, and how many entries link up to it. */
export interface AuditCursor {
  readonly seq: number;
  readonly hash: string;
  readonly entries: number;
}

/** Outcome of {@link verifyAuditRange}: the verification, where to resume, and the stream's last sequence. */
export interface AuditRangeVerification extends AuditVerification {
  /** The last entry that linked; absent while none did. */
  readonly cursor?: AuditCursor;
  /** The stream's last sequence when it was read. */
  readonly lastSeq: number;
}

/** Reads the whole stream and checks every link, reporting the first broken one. */
export async function verifyAuditChain(js: JetStreamClient): Promise<AuditVerification> {
  const { entries, brokenAt, reason } = await verifyAuditRange(js);
  return brokenAt === undefined ? { entries } : { entries, brokenAt, reason };
}

/** The record in a stored message, or `undefined` when it is not one (not JSON, fields missing). */
function recordOf(data: Uint8Array): AuditRecord | undefined {
  let r: Partial<AuditRecord> | null;
  try {
    r = JSON.parse(new TextDecoder().decode(data)) as Partial<AuditRecord> | null;
  } catch {
    return undefined;
  }
  const ok =
    typeof r === "object" &&
    r !== null &&
    typeof r.prev === "string" &&
    typeof r.hash === "string" &&
    typeof r.entry === "object" &&
    r.entry !== null;
  return ok ? (r as AuditRecord) : undefined;
}

/**
 * Checks the links after `from` (from the first entry without it), at most `limit` of them, and
 * reports the first broken one or where the next check resumes. Resuming from `from` first checks
 * that the entry it names is still there with its hash (a stream deleted and recreated, or
 * rewritten, is a break at `from.seq`: "chain shorter than verified", "verified entry missing",
 * "verified entry replaced"). Only a definite "no message" counts as a missing entry: any other
 * read error (timeout, leader change, lost connection) rejects, so the caller can retry from the
 * same cursor.
 */
export async function verifyAuditRange(
  js: JetStreamClient,
  from?: AuditCursor,
  limit = Number.POSITIVE_INFINITY,
): Promise<AuditRangeVerification> {
  const stream = await js.streams.get(AUDIT_STREAM);
  const { state } = await stream.info();
  if (from) {
    const head = (reason: string) => ({
      entries: from.entries,
      brokenAt: from.seq,
      reason,
      cursor: from,
      lastSeq: state.last_seq,
    });
    if (state.last_seq < from.seq) return head("chain shorter than verified");
    const m = await stream.getMessage({ seq: from.seq });
    if (!m) return head("verified entry missing");
    if (recordOf(m.data)?.hash !== from.hash) return head("verified entry replaced");
  }
  let prev = from?.hash ?? GENESIS;
  let count = from?.entries ?? 0;
  let cursor = from;
  const start = from ? from.seq + 1 : state.first_seq;
  const end = state.messages > 0 ? Math.min(state.last_seq, start + limit - 1) : start - 1;
  for (let seq = start; seq <= end; seq++) {
    const broken = (reason: string) => ({
      entries: count,
      brokenAt: seq,
      reason,
      cursor,
      lastSeq: state.last_seq,
    });
    const m = await stream.getMessage({ seq });
    if (!m) return broken("entry missing");
    const r = recordOf(m.data);
    if (!r) return broken("entry is not a valid record");
    if (r.prev !== prev) return broken("link to the previous entry does not match");
    if (r.hash !== chainHash(prev, r.entry)) return broken("entry hash does not match");
    prev = r.hash;
    count++;
    cursor = { seq, hash: r.hash, entries: count };
  }
  return { entries: count, cursor, lastSeq: state.last_seq };
}
