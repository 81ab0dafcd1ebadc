/**
 * Delivers a tenant's operation changes to its webhook subscriptions. Every API instance follows
 * the operations bucket from the shared cursor; for each change and each subscription that asks
 * for its type, the instance that claims (create-only) the (subscription, revision) pair delivers
 * it, so each change reaches each subscription once however many instances run.
 *
 * A delivery is a POST of `{ id, type: "operation", operation }` with the subscription id, the
 * delivery id, a timestamp and an Ed25519 signature over them and the body in headers. Any 2xx
 * answer is a success; anything else (another status, a redirect, which is never followed, a
 * network error, no answer within the timeout) is retried after a back-off that doubles from 1 s
 * up to 5 min, until 30 attempts or 24 h, then given up. Each attempt updates the subscription's
 * delivery state. Retries live in the claiming instance: an instance that stops drops its own.
 * @module
 */
import type { Logger } from "pino";
import type { OperationRecord } from "./records.js";
import type { OperationWatch, Repository } from "./repository.js";
import { eventTypeOf, type WebhookStore, type WebhookSubscription } from "./webhooks.js";
import type { WebhookSigner } from "./webhooks-signing.js";

/** Retry and timeout policy of deliveries. */
export interface DeliveryPolicy {
  /** First retry delay (ms); each next one doubles. Default 1 s. */
  readonly firstDelayMs?: number;
  /** Largest retry delay (ms). Default 5 min. */
  readonly maxDelayMs?: number;
  /** Attempts before a delivery is given up. Default 30. */
  readonly maxAttempts?: number;
  /** Age (ms) after which a delivery is given up. Default 24 h. */
  readonly giveUpAfterMs?: number;
  /** Timeout of one attempt (ms). Default 10 s. */
  readonly timeoutMs?: number;
}

/** What a dispatcher needs. */
export interface DispatcherOptions {
  readonly repo: Repository;
  readonly store: WebhookStore;
  readonly signer: WebhookSigner;
  /** The newest revision of the operations bucket (where to start without a cursor). */
  readonly head: () => Promise<number>;
  /** The operation as clients see it (the body's `operation`). */
  readonly render: (op: OperationRecord) => unknown;
  /** Names this instance in its claims. */
  readonly owner: string;
  readonly log: Logger;
  readonly policy?: DeliveryPolicy;
}

/** One change on its way to one subscription. */
interface Delivery {
  readonly sub: WebhookSubscription;
  readonly id: string;
  readonly body: Uint8Array;
  readonly firstAt: number;
  attempts: number;
}

/** Deliveries scheduled at most per instance and tenant; more are given up at once. */
const MAX_SCHEDULED = 10_000;

/** Follows the operations bucket and delivers to the tenant's subscriptions. */
export class WebhookDispatcher {
  private readonly subs = new Map<string, WebhookSubscription>();
  private readonly fresh = new Map<string, { sub: WebhookSubscription; until: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  private readonly loops: Promise<void>[] = [];
  private opsWatch: OperationWatch | undefined;
  private subsTimer: NodeJS.Timeout | undefined;
  private cursorTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Newest revision whose deliveries were all claimed here, and the newest saved as the cursor. */
  private processed = 0;
  private saved = 0;
  /** Set when the stored cursor came from another broker: cursors above it are replaced. */
  private staleAbove = Number.POSITIVE_INFINITY;

  constructor(private readonly o: DispatcherOptions) {}

  /** Loads the subscriptions and starts following (re-reads the subscriptions every 2 s). */
  async start(): Promise<void> {
    await this.reload();
    this.subsTimer = setInterval(
      () =>
        void this.reload().catch((e: unknown) =>
          this.o.log.warn({ err: String(e) }, "could not read the webhook subscriptions"),
        ),
      2000,
    );
    this.subsTimer.unref();
    // A cursor past the bucket's head comes from another broker (a restore): start at the head.
    const [cursor, head] = [await this.o.store.cursor(), await this.o.head()];
    this.processed = cursor > 0 && cursor <= head ? cursor : head;
    if (cursor > head) this.staleAbove = head;
    this.saved = this.processed;
    this.loops.push(this.follow());
    this.cursorTimer = setInterval(() => void this.saveCursor(), 1000);
    this.cursorTimer.unref();
  }

  private async reload(): Promise<void> {
    const subs = await this.o.store.list();
    // Read after the subscriptions, the head is at least every one's starting revision, unless
    // that revision came from another broker (a restore): then it starts at the beginning.
    const head = await this.o.head();
    this.subs.clear();
    for (const s of subs) this.subs.set(s.id, s.fromRevision > head ? { ...s, fromRevision: 0 } : s);
    // A read that started before a local add may miss it: keep those for a while.
    for (const [id, f] of this.fresh) {
      if (f.until < Date.now()) this.fresh.delete(id);
      else if (!this.subs.has(id)) this.subs.set(id, f.sub);
    }
  }

  /** Starts delivering to a subscription this instance just stored (before the next re-read). */
  added(sub: WebhookSubscription): void {
    this.subs.set(sub.id, sub);
    this.fresh.set(sub.id, { sub, until: Date.now() + 10_000 });
  }

  /** Stops delivering to a subscription this instance just removed. */
  removed(id: string): void {
    this.subs.delete(id);
    this.fresh.delete(id);
  }

  /** Stops following, cancels scheduled retries and aborts attempts in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.cursorTimer);
    this.opsWatch?.stop();
    clearInterval(this.subsTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const a of this.inflight) a.abort();
    await Promise.allSettled(this.loops);
    await this.saveCursor();
  }

  /** Follows the operations bucket after the last processed revision, resuming when the watch drops. */
  private async follow(): Promise<void> {
    while (!this.stopped) {
      try {
        this.opsWatch = await this.o.repo.watchOperations(this.processed);
        for await (const { revision, operation } of this.opsWatch.entries) {
          if (operation) await this.dispatch(revision, operation);
          this.processed = revision;
        }
      } catch (e) {
        if (!this.stopped) this.o.log.warn({ err: String(e) }, "webhook operations watch failed: resuming");
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Claims and schedules the deliveries of one change. */
  private async dispatch(revision: number, op: OperationRecord): Promise<void> {
    const type = eventTypeOf(op);
    for (const sub of this.subs.values()) {
      if (revision <= sub.fromRevision || (sub.events && !sub.events.includes(type))) continue;
      if (!(await this.o.store.claim(sub.id, revision, this.o.owner))) continue;
      const id = `dlv_${sub.id.slice(3)}_${revision}`;
      const body = new TextEncoder().encode(
        JSON.stringify({ id, type: "operation", operation: this.o.render(op) }),
      );
      const d: Delivery = { sub, id, body, firstAt: Date.now(), attempts: 0 };
      if (this.timers.size >= MAX_SCHEDULED)
        await this.record(d, { error: "too many deliveries pending" }, true);
      else this.schedule(d, 0);
    }
  }

  private schedule(d: Delivery, delayMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.attempt(d).catch((e: unknown) =>
        this.o.log.warn({ webhook: d.sub.id, delivery: d.id, err: String(e) }, "webhook delivery failed"),
      );
    }, delayMs);
    this.timers.add(t);
  }

  /** One attempt; schedules the next one when it failed and the delivery is not given up. */
  private async attempt(d: Delivery): Promise<void> {
    if (this.stopped || !this.subs.has(d.sub.id)) return;
    const p = this.o.policy ?? {};
    const timestamp = String(Date.now());
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), p.timeoutMs ?? 10_000);
    this.inflight.add(abort);
    let outcome: { status?: number; error?: string };
    try {
      const res = await fetch(d.sub.url, {
        method: "POST",
        body: d.body,
        redirect: "manual",
        signal: abort.signal,
        headers: {
          "content-type": "application/json",
          "user-agent": "custody-webhooks/1",
          "custody-webhook-id": d.sub.id,
          "custody-webhook-delivery": d.id,
          "custody-webhook-timestamp": timestamp,
          "custody-webhook-signature": this.o.signer.sign(d.sub.id, d.id, timestamp, d.body),
        },
      });
      await res.body?.cancel().catch(() => {});
      outcome = { status: res.status };
    } catch (e) {
      outcome = { error: abort.signal.aborted ? "timeout" : failureText(e) };
    } finally {
      clearTimeout(timer);
      this.inflight.delete(abort);
    }
    if (this.stopped) return;
    d.attempts++;
    const ok = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
    if (ok) return this.record(d, outcome, false);
    const delay = Math.min((p.firstDelayMs ?? 1000) * 2 ** (d.attempts - 1), p.maxDelayMs ?? 300_000);
    const giveUp =
      d.attempts >= (p.maxAttempts ?? 30) ||
      Date.now() + delay - d.firstAt > (p.giveUpAfterMs ?? 24 * 3600_000);
    await this.record(d, outcome, giveUp, giveUp ? undefined : delay);
    if (!giveUp) this.schedule(d, delay);
  }

  /** Writes the outcome of an attempt into the subscription's delivery state. */
  private record(
    d: Delivery,
    outcome: { status?: number; error?: string },
    givenUp: boolean,
    retryInMs?: number,
  ): Promise<void> {
    const at = new Date().toISOString();
    const ok = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
    return this.o.store.updateState(d.sub.id, (s) => {
      const { lastStatus: _st, lastError: _er, nextRetryAt: _nr, ...rest } = s;
      const base = {
        ...rest,
        lastAttemptAt: at,
        ...(outcome.status !== undefined ? { lastStatus: outcome.status } : {}),
      };
      if (ok) return { ...base, lastSuccessAt: at, consecutiveFailures: 0, delivered: s.delivered + 1 };
      const error = outcome.error ?? `HTTP ${outcome.status}`;
      return {
        ...base,
        lastError: givenUp ? `${error}; given up after ${d.attempts} attempts` : error,
        consecutiveFailures: s.consecutiveFailures + 1,
        givenUp: s.givenUp + (givenUp ? 1 : 0),
        ...(retryInMs !== undefined ? { nextRetryAt: new Date(Date.now() + retryInMs).toISOString() } : {}),
      };
    });
  }

  private async saveCursor(): Promise<void> {
    const target = this.processed;
    if (target <= this.saved && this.staleAbove === Number.POSITIVE_INFINITY) return;
    try {
      await this.o.store.advanceCursor(target, this.staleAbove);
      this.saved = target;
      this.staleAbove = Number.POSITIVE_INFINITY;
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "could not save the webhook cursor");
    }
  }
}

/** A network failure as a short code, without the URL (it may carry a token of the receiver's). */
function failureText(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === "string") return cause.code;
  return e instanceof Error ? e.name : "network error";
}
