/**
 * Webhook subscriptions of a tenant and their delivery state, in the tenant's webhooks bucket
 * (only the API identity may use it), and the create-only delivery claims (their own bucket,
 * entries expire after a day) that let several API instances deliver each change once.
 *
 * Keys of the webhooks bucket: `subs` (every subscription, one record: the API reads and writes
 * this bucket by key only, it never lists it), `state.<id>` (a subscription's delivery state),
 * `cursor` (the newest operations-bucket revision whose deliveries were claimed).
 * @module
 */
import { randomBytes } from "node:crypto";
import { WEBHOOK_CLAIMS_BUCKET, WEBHOOKS_BUCKET } from "@custody/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeRecord, encodeRecord, type OperationRecord } from "./records.js";

/** What changed about an operation. */
export type OperationEventType = "created" | "progress" | "succeeded" | "failed";
/** Every event type a subscription may ask for. */
export const EVENT_TYPES: readonly OperationEventType[] = ["created", "progress", "succeeded", "failed"];

/** The kind of change a stored operation record shows. */
export function eventTypeOf(op: OperationRecord): OperationEventType {
  if (op.status !== "pending") return op.status;
  const untouched = !op.progress && op.createdAt === op.updatedAt && Object.keys(op.reports).length === 0;
  return untouched ? "created" : "progress";
}

/** A webhook subscription. */
export interface WebhookSubscription {
  readonly id: string;
  readonly url: string;
  /** Event types delivered; absent: every type. */
  readonly events?: OperationEventType[];
  readonly createdAt: string;
  /** Credential subject of the admin who created it. */
  readonly createdBy: string;
  /** Changes up to this operations-bucket revision happened before it existed (never delivered). */
  readonly fromRevision: number;
}

/** How deliveries to a subscription went. */
export interface DeliveryState {
  lastAttemptAt?: string;
  /** HTTP status of the last attempt, when the receiver answered. */
  lastStatus?: number;
  /** Why the last attempt failed, when it did. */
  lastError?: string;
  lastSuccessAt?: string;
  /** Failed attempts since the last success. */
  consecutiveFailures: number;
  /** When the last failed delivery is tried again; absent when none is scheduled. */
  nextRetryAt?: string;
  /** Deliveries that succeeded. */
  delivered: number;
  /** Deliveries given up after their last attempt. */
  givenUp: number;
}

/** A refused subscription URL. */
export class WebhookUrlError extends Error {
  override readonly name = "WebhookUrlError";
}

/** Longest accepted webhook URL. */
const MAX_URL_LENGTH = 2048;

/**
 * Checks a webhook URL: absolute http(s), no user name or password in it (webhooks carry no shared
 * secret), at most 2048 characters. Returns it normalised.
 * @throws WebhookUrlError otherwise
 */
export function checkWebhookUrl(url: string): string {
  if (url.length > MAX_URL_LENGTH) throw new WebhookUrlError(`the URL is longer than ${MAX_URL_LENGTH}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WebhookUrlError("the URL is not an absolute URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new WebhookUrlError("only http and https URLs are accepted");
  if (u.username || u.password) throw new WebhookUrlError("the URL may not carry a user name or password");
  return u.toString();
}

/** A fresh subscription id. */
const newId = () => `wh_${randomBytes(12).toString("hex")}`;
/** Subscription ids as this store hands them out. */
export const WEBHOOK_ID_PATTERN = "^wh_[0-9a-f]{24}$";

/** Key of the subscriptions record. */
const SUBS = "subs";
/** Subscriptions a tenant may have. */
export const MAX_SUBSCRIPTIONS = 100;
/** What a lost compare-and-set (or create-only) write reports. */
const CAS_LOST = /wrong last sequence|key exists/;

/** Refused: the tenant has as many subscriptions as allowed. */
export class WebhookLimitError extends Error {
  override readonly name = "WebhookLimitError";
}

const empty = (): DeliveryState => ({ consecutiveFailures: 0, delivered: 0, givenUp: 0 });

/** Typed access to one tenant's webhook buckets. */
export class WebhookStore {
  private constructor(
    private readonly kv: KV,
    private readonly claims: KV,
  ) {}

  /** Opens the (provisioned) buckets. */
  static async open(nc: NatsConnection): Promise<WebhookStore> {
    const kvm = new Kvm(nc);
    return new WebhookStore(await kvm.open(WEBHOOKS_BUCKET), await kvm.open(WEBHOOK_CLAIMS_BUCKET));
  }

  /** Stores a new subscription. */
  async add(
    s: Omit<WebhookSubscription, "id" | "createdAt" | "url"> & { url: string },
  ): Promise<WebhookSubscription> {
    const sub: WebhookSubscription = {
      id: newId(),
      url: checkWebhookUrl(s.url),
      ...(s.events ? { events: [...new Set(s.events)] } : {}),
      createdAt: new Date().toISOString(),
      createdBy: s.createdBy,
      fromRevision: s.fromRevision,
    };
    await this.changeSubs((all) => {
      if (Object.keys(all).length >= MAX_SUBSCRIPTIONS)
        throw new WebhookLimitError(`a tenant has at most ${MAX_SUBSCRIPTIONS} webhooks`);
      return { ...all, [sub.id]: sub };
    });
    return sub;
  }

  /** Every subscription, oldest first. */
  async list(): Promise<WebhookSubscription[]> {
    const e = await this.kv.get(SUBS);
    const all = e?.operation === "PUT" ? decodeRecord<Record<string, WebhookSubscription>>(e.value) : {};
    return Object.values(all).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Removes a subscription and its state; false when there was none. */
  async remove(id: string): Promise<boolean> {
    let found = false;
    await this.changeSubs((all) => {
      found = id in all;
      if (!found) return undefined;
      const { [id]: _gone, ...rest } = all;
      return rest;
    });
    if (found) await this.kv.delete(`state.${id}`);
    return found;
  }

  /** Compare-and-set of the subscriptions record; `change` returns undefined to leave it. */
  private async changeSubs(
    change: (all: Record<string, WebhookSubscription>) => Record<string, WebhookSubscription> | undefined,
  ): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await this.kv.get(SUBS);
      const all = e?.operation === "PUT" ? decodeRecord<Record<string, WebhookSubscription>>(e.value) : {};
      const next = change(all);
      if (!next) return;
      try {
        if (e) await this.kv.update(SUBS, encodeRecord(next), e.revision);
        else await this.kv.create(SUBS, encodeRecord(next));
        return;
      } catch (err) {
        if (!CAS_LOST.test(String(err))) throw err;
      }
    }
    throw new Error("could not update the webhook subscriptions");
  }

  /** The delivery state of a subscription. */
  async state(id: string): Promise<DeliveryState> {
    const e = await this.kv.get(`state.${id}`);
    return e?.operation === "PUT" ? decodeRecord<DeliveryState>(e.value) : empty();
  }

  /** Read-modify-write of a subscription's delivery state (compare-and-set; created when absent). */
  async updateState(id: string, change: (s: DeliveryState) => DeliveryState): Promise<void> {
    const key = `state.${id}`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await this.kv.get(key);
      const cur = e?.operation === "PUT" ? decodeRecord<DeliveryState>(e.value) : empty();
      try {
        if (e?.operation === "PUT") await this.kv.update(key, encodeRecord(change(cur)), e.revision);
        else await this.kv.create(key, encodeRecord(change(cur)));
        return;
      } catch (err) {
        if (!CAS_LOST.test(String(err))) throw err;
      }
    }
    throw new Error(`could not update the delivery state of ${id}`);
  }

  /**
   * Claims the delivery of operations-bucket revision `revision` to subscription `id` (create-only):
   * true for exactly one caller, whichever API instance it runs in.
   */
  async claim(id: string, revision: number, owner: string): Promise<boolean> {
    try {
      await this.claims.create(`${id}.${revision}`, new TextEncoder().encode(owner));
      return true;
    } catch (e) {
      if (CAS_LOST.test(String(e))) return false;
      throw e;
    }
  }

  /** The newest revision whose deliveries were claimed (0: none yet). */
  async cursor(): Promise<number> {
    const e = await this.kv.get("cursor");
    return e?.operation === "PUT" ? Number(new TextDecoder().decode(e.value)) || 0 : 0;
  }

  /**
   * Moves the cursor forward to `revision`, never back, except from past `staleAbove` (a cursor
   * beyond the bucket's head came from another broker).
   */
  async advanceCursor(revision: number, staleAbove = Number.POSITIVE_INFINITY): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await this.kv.get("cursor");
      const cur = e?.operation === "PUT" ? Number(new TextDecoder().decode(e.value)) || 0 : 0;
      if (cur >= revision && cur <= staleAbove) return;
      const value = new TextEncoder().encode(String(revision));
      try {
        if (e) await this.kv.update("cursor", value, e.revision);
        else await this.kv.create("cursor", value);
        return;
      } catch (err) {
        if (!CAS_LOST.test(String(err))) throw err;
      }
    }
  }
}
