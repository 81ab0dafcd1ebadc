/**
 * The API's tenants. Each tenant's data plane lives in its own NATS account; for every tenant the
 * registry lists (with a JWT for the API's identity) the API opens a connection into that account
 * and runs the tenant's repository, result aggregator, dead letters and use cases on it. Requests
 * are routed by the tenant of the caller's verified credential, so one tenant's request can never
 * touch another tenant's account. Tenants enrolled while the API runs are picked up from the registry.
 * @module
 */
import { randomBytes } from "node:crypto";
import { OPERATIONS_BUCKET } from "@custody/proto";
import {
  API_INBOX,
  type AuditLog,
  connectNats,
  type LivenessTracker,
  publicKeyOfCredentials,
  type TenantRegistry,
  TenantServices,
  type UserCredentials,
  type WorkerSighting,
} from "@custody/runtime";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { Problem } from "../problems.js";
import { ResultAggregator } from "./aggregator.js";
import { DeadLetters } from "./dead-letters.js";
import type { OperationPage, OperationQuery } from "./operation-index.js";
import type { OperationRecord } from "./records.js";
import { type OperationWatch, Repository } from "./repository.js";
import { type Actor, CustodyService } from "./service.js";
import { WebhookStore, type WebhookSubscription } from "./webhooks.js";
import { type DeliveryPolicy, WebhookDispatcher } from "./webhooks-delivery.js";
import type { WebhookSigner } from "./webhooks-signing.js";

/** One tenant's slice of the API. */
interface TenantPlane {
  readonly nc: NatsConnection;
  readonly service: CustodyService;
  readonly deadLetters: DeadLetters;
  readonly repo: Repository;
  /** The newest revision of the operations bucket. */
  head(): Promise<number>;
  /** Absent when webhooks are not configured, or the tenant's buckets are not provisioned. */
  readonly webhooks?: { readonly store: WebhookStore; readonly dispatcher: WebhookDispatcher };
  stop(): Promise<void>;
}

/** Webhook delivery, when the API has a signing key. */
export interface WebhookOptions {
  readonly signer: WebhookSigner;
  /** The operation as clients see it. */
  readonly render: (op: OperationRecord) => unknown;
  readonly policy?: DeliveryPolicy;
}

/** Where the tenancy reports what it observes (the API's metrics). */
export interface TenancyMetrics {
  operationFinished(op: OperationRecord, scheme: string): void;
  phaseLeft(type: string, phase: string, seconds: number): void;
  resultRejected(code: string): void;
}

/** What the tenancy needs to open tenant planes. */
export interface TenancyOptions {
  readonly servers: readonly string[];
  /** The API identity's control-account credentials; its seed also opens tenant accounts. */
  readonly credentials: UserCredentials;
  readonly tls?: {
    readonly caFile: string;
    readonly certFile: string;
    readonly keyFile: string;
  };
  readonly liveness: LivenessTracker;
  /** Where to report operation outcomes, phases and refused results; none when absent. */
  readonly metrics?: TenancyMetrics;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly webhooks?: WebhookOptions;
  /** Per-credential signing rate of every tenant's service (messages; the service's default when absent). */
  readonly signRate?: { readonly perSecond: number; readonly burst: number };
}

/** The use cases, routed to the caller's tenant. */
export type CustodyApi = Pick<
  CustodyService,
  "createKey" | "sign" | "refresh" | "operation" | "key" | "keys"
>;

/** Every tenant plane of this API instance. */
export class Tenancy implements CustodyApi {
  private readonly planes: TenantServices<TenantPlane>;
  private readonly settledListeners: ((id: string) => void)[] = [];
  /** Names this instance in webhook delivery claims. */
  private readonly instance = `api-${randomBytes(6).toString("hex")}`;

  constructor(private readonly o: TenancyOptions) {
    this.planes = new TenantServices(
      publicKeyOfCredentials(o.credentials),
      (tenant, jwt) => this.open(tenant, jwt),
      (tenant, err) =>
        o.log.error({ tenant, err: String(err) }, "tenant registry or connection failed; retrying"),
    );
  }

  /** Serves every tenant in the registry (resolves once the current ones are up) and watches for more. */
  start(registry: TenantRegistry): Promise<void> {
    return this.planes.start(registry);
  }

  private async open(tenant: string, jwt: () => string): Promise<TenantPlane> {
    const o = this.o;
    const nc = await connectNats({
      servers: o.servers,
      credentials: { jwt, seed: o.credentials.seed },
      name: `api@${tenant}`,
      inboxPrefix: API_INBOX,
      tls: o.tls,
    });
    try {
      return await this.planeOn(nc, tenant);
    } catch (e) {
      await nc.close(); // a tenant that could not be served leaves no connection behind
      throw e;
    }
  }

  private async planeOn(nc: NatsConnection, tenant: string): Promise<TenantPlane> {
    const o = this.o;
    const log = o.log.child({ tenant });
    const js = jetstream(nc, { timeout: 5000 });
    const repo = await Repository.open(nc);
    const aggregator = new ResultAggregator(nc, js, repo, log);
    /** Appends what happened to an operation to the audit trail. */
    const audit = (
      op: OperationRecord,
      kind: "outcome" | "rejected-result",
      result: string,
      reason?: string,
    ) =>
      void o.audit.append({
        at: new Date().toISOString(),
        kind,
        action: op.type,
        tenant,
        keyId: op.keyId,
        operationId: op.id,
        result,
        reason,
      });
    const metrics = o.metrics;
    aggregator.onTerminal = (op) => {
      audit(op, "outcome", op.status, op.error?.code);
      if (metrics)
        void repo.keyScheme(op.keyId).then(
          (scheme) => metrics.operationFinished(op, scheme ?? "unknown"),
          () => metrics.operationFinished(op, "unknown"),
        );
    };
    aggregator.onRejectedResult = (op, party, code) => {
      audit(op, "rejected-result", `party ${party}`, code);
      metrics?.resultRejected(code);
    };
    if (metrics) aggregator.onPhaseLeft = (op, phase, seconds) => metrics.phaseLeft(op.type, phase, seconds);
    const deadLetters = new DeadLetters({ js, repo, aggregator, log });
    try {
      await aggregator.start();
      await deadLetters.start();
    } catch (e) {
      await aggregator.stop();
      await deadLetters.stop();
      throw e;
    }
    // One dispatcher per plane reads the listeners at call time, so a listener added while this
    // plane was opening is not missed.
    deadLetters.onSettled((id) => {
      for (const l of this.settledListeners) l(id);
    });
    const service = new CustodyService({ nc, js, repo, liveness: o.liveness, tenant, signRate: o.signRate });
    const jsm = await js.jetstreamManager(false);
    const head = async () => (await jsm.streams.info(`KV_${OPERATIONS_BUCKET}`)).state.last_seq;
    const webhooks = await this.webhooksOn(nc, repo, head, log).catch(async (e: unknown) => {
      await aggregator.stop();
      await deadLetters.stop();
      throw e;
    });
    log.info({}, "serving tenant");
    return {
      nc,
      service,
      deadLetters,
      repo,
      head,
      webhooks,
      async stop() {
        await webhooks?.dispatcher.stop();
        await aggregator.stop();
        await deadLetters.stop();
        await nc.drain().catch(() => nc.close());
      },
    };
  }

  /** The tenant's webhook store and dispatcher; none without a signing key or provisioned buckets. */
  private async webhooksOn(nc: NatsConnection, repo: Repository, head: () => Promise<number>, log: Logger) {
    const w = this.o.webhooks;
    if (!w) return undefined;
    let store: WebhookStore;
    try {
      store = await WebhookStore.open(nc);
    } catch (e) {
      log.warn({ err: String(e) }, "webhook buckets missing (provision the tenant again): no webhooks");
      return undefined;
    }
    const dispatcher = new WebhookDispatcher({
      repo,
      store,
      signer: w.signer,
      head,
      render: w.render,
      owner: this.instance,
      log,
      policy: w.policy,
    });
    await dispatcher.start();
    return { store, dispatcher };
  }

  private plane(tenant: string): TenantPlane {
    const p = this.planes.get(tenant);
    if (p) return p;
    if (this.planes.opening(tenant))
      throw new Problem("unavailable", `tenant ${tenant} is being attached; retry shortly`, {}, 1);
    throw new Problem("unknown-tenant", `tenant ${tenant} is not served by this API`);
  }

  createKey(
    actor: Actor,
    ...rest: Parameters<CustodyService["createKey"]> extends [Actor, ...infer R] ? R : never
  ) {
    return this.plane(actor.claims.tenant).service.createKey(actor, ...rest);
  }
  sign(actor: Actor, ...rest: Parameters<CustodyService["sign"]> extends [Actor, ...infer R] ? R : never) {
    return this.plane(actor.claims.tenant).service.sign(actor, ...rest);
  }
  refresh(
    actor: Actor,
    ...rest: Parameters<CustodyService["refresh"]> extends [Actor, ...infer R] ? R : never
  ) {
    return this.plane(actor.claims.tenant).service.refresh(actor, ...rest);
  }
  operation(actor: Actor, id: string, waitMs?: number) {
    return this.plane(actor.claims.tenant).service.operation(actor, id, waitMs);
  }
  key(actor: Actor, id: string) {
    return this.plane(actor.claims.tenant).service.key(actor, id);
  }
  keys(actor: Actor) {
    return this.plane(actor.claims.tenant).service.keys(actor);
  }

  /**
   * Follows a tenant's operations bucket after `afterRevision`; without it, from now on.
   * The caller must `stop()` the watch.
   */
  async watchOperations(tenant: string, afterRevision?: number): Promise<OperationWatch> {
    const p = this.plane(tenant);
    return p.repo.watchOperations(afterRevision ?? (await p.head()));
  }

  /** The API's webhook signing key, when configured. */
  get webhookSigner(): WebhookSigner | undefined {
    return this.o.webhooks?.signer;
  }

  /** The tenant's webhook subscriptions. @throws Problem `not-found` when webhooks are off there */
  webhooks(tenant: string): {
    store: WebhookStore;
    /** Starts delivering to a subscription this instance just stored, before it re-reads them. */
    added(sub: WebhookSubscription): void;
    /** Stops delivering to a subscription this instance just removed. */
    removed(id: string): void;
    /** The newest revision of the operations bucket (where a new subscription starts). */
    head(): Promise<number>;
  } {
    const p = this.plane(tenant);
    const w = p.webhooks;
    if (!w)
      throw new Problem(
        "not-found",
        this.o.webhooks
          ? `webhooks are not provisioned for tenant ${tenant}`
          : "webhooks are not configured on this API (custody api --webhook-key FILE)",
      );
    return {
      store: w.store,
      added: (sub) => w.dispatcher.added(sub),
      removed: (id) => w.dispatcher.removed(id),
      head: () => p.head(),
    };
  }

  /** Failed operations of a tenant, newest first. */
  list(tenant: string, limit: number): OperationRecord[] {
    return this.plane(tenant).deadLetters.list(tenant, limit);
  }

  /** A page of a tenant's operations, newest first. */
  operations(tenant: string, q: OperationQuery): OperationPage {
    return this.plane(tenant).deadLetters.operations(tenant, q);
  }

  /** Every worker heard that serves `tenant`, live or not. */
  workers(tenant: string): WorkerSighting[] {
    return this.o.liveness.sightings().filter((w) => w.tenants.includes(tenant));
  }

  /** True while an operation of any tenant is known to be pending. */
  isPending(id: string): boolean {
    for (const [, p] of this.planes.entries()) if (p.deadLetters.isPending(id)) return true;
    return false;
  }

  /** Calls `listener` with the id of every operation, of any tenant, seen leaving `pending`. */
  onSettled(listener: (id: string) => void): void {
    this.settledListeners.push(listener);
  }

  /** True when every tenant connection is up. */
  connected(): boolean {
    return this.planes.entries().every(([, p]) => !p.nc.isClosed());
  }

  /** Stops every tenant plane. */
  stop(): Promise<void> {
    return this.planes.stop();
  }
}
