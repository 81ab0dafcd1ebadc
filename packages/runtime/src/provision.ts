/**
 * Creates (idempotently) every stream, consumer and bucket Custody uses: the control account's and
 * each tenant account's. Run by the operator's admin users before the API and workers use them;
 * workers and the API have no right to create anything.
 * @module
 */
import {
  ADVISORY_CONSUMER,
  ADVISORY_STREAM,
  AUDIT_STREAM,
  advisorySubjects,
  auditSubject,
  IDEMPOTENCY_BUCKET,
  KEYS_BUCKET,
  NONCE_BUCKET,
  OPERATIONS_BUCKET,
  partyConsumer,
  REQUEST_STREAM,
  RESULT_CONSUMER,
  RESULT_STREAM,
  REVOCATIONS_BUCKET,
  requestSubjects,
  resultSubjects,
  servedBucket,
  shareBucket,
  TENANTS_BUCKET,
  WEBHOOK_CLAIMS_BUCKET,
  WEBHOOKS_BUCKET,
} from "@custody/proto";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type NatsConnection, nanos } from "@nats-io/transport-node";

/** Sizing and durability of the provisioned assets. */
export interface ProvisionOptions {
  /** Parties that will have a consumer and a share bucket. */
  readonly parties: readonly number[];
  /** Replicas of every stream and bucket: 1 on one server, 3 on a cluster. */
  readonly replicas?: number;
  /** Redeliveries before a work item is given up. Default 5. */
  readonly maxDeliver?: number;
  /** Ack wait of work items in ms (workers signal progress while they run). Default 30 s. */
  readonly ackWaitMs?: number;
  /** In-flight work items per party consumer. Default 64. */
  readonly maxAckPending?: number;
}

/** Largest size of the audit trail (bytes); when full, appends fail (and are logged), nothing is dropped. */
export const AUDIT_MAX_BYTES = 15 * 1024 ** 3;

/** Defaults shared by provisioning and the workers (which must know `maxDeliver`). */
export const WORK_DEFAULTS = { maxDeliver: 5, ackWaitMs: 30_000, maxAckPending: 64 } as const;

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }) {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (e) {
    if ((e as { name?: string }).name !== "StreamNotFoundError" && !String(e).includes("not found")) throw e;
    await jsm.streams.add(config);
  }
}

/**
 * Creates or updates a tenant's data plane in its account: the request, result and advisory
 * streams, the consumers, and the operation, key, idempotency, revocation, webhook, webhook-claim,
 * share and served-request buckets.
 */
export async function provisionTenant(nc: NatsConnection, options: ProvisionOptions): Promise<void> {
  const replicas = options.replicas ?? 1;
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, {
    name: REQUEST_STREAM,
    subjects: [requestSubjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(7 * 24 * 3600_000),
    max_bytes: 1024 ** 3,
    max_msg_size: 1024 * 1024,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(10 * 60_000),
    deny_delete: true,
    deny_purge: true,
  });
  await ensureStream(jsm, {
    name: RESULT_STREAM,
    subjects: [resultSubjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(30 * 24 * 3600_000),
    max_bytes: 1024 ** 3,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(10 * 60_000),
    allow_direct: true,
    deny_delete: true,
    deny_purge: true,
  });
  await ensureStream(jsm, {
    name: ADVISORY_STREAM,
    subjects: [...advisorySubjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(30 * 24 * 3600_000),
    max_bytes: 64 * 1024 ** 2,
    discard: DiscardPolicy.Old,
  });
  const inFlight = options.maxAckPending ?? WORK_DEFAULTS.maxAckPending;
  // One result in flight across every API instance: results of one operation update one record by
  // compare-and-set, and nats-server 2.9 can accept two in-flight updates of a replicated key that
  // expect the same revision (a lost update: the operation waits forever for the report it lost).
  // Each API applies results one at a time anyway, so this costs a single API nothing.
  const consumers = [
    ...options.parties.map((p) => ({ stream: REQUEST_STREAM, name: partyConsumer(p), inFlight })),
    { stream: RESULT_STREAM, name: RESULT_CONSUMER, inFlight: 1 },
    { stream: ADVISORY_STREAM, name: ADVISORY_CONSUMER, inFlight },
  ];
  for (const c of consumers) {
    await jsm.consumers.add(c.stream, {
      name: c.name,
      durable_name: c.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(options.ackWaitMs ?? WORK_DEFAULTS.ackWaitMs),
      max_deliver: c.stream === REQUEST_STREAM ? (options.maxDeliver ?? WORK_DEFAULTS.maxDeliver) : -1,
      max_ack_pending: c.inFlight,
      max_waiting: 512,
    });
  }
  const kvm = new Kvm(nc);
  const bucket = (name: string, extra: { ttl?: number; history?: number } = {}) =>
    kvm.create(name, { replicas, storage: StorageType.File, history: extra.history ?? 1, ttl: extra.ttl });
  await bucket(OPERATIONS_BUCKET);
  await bucket(KEYS_BUCKET);
  await bucket(IDEMPOTENCY_BUCKET, { ttl: 24 * 3600_000 });
  await bucket(REVOCATIONS_BUCKET);
  await bucket(WEBHOOKS_BUCKET);
  await bucket(WEBHOOK_CLAIMS_BUCKET, { ttl: WEBHOOK_CLAIM_TTL_MS });
  for (const p of options.parties) {
    await bucket(shareBucket(p), { history: 1 });
    await bucket(servedBucket(p), { ttl: SERVED_TTL_MS });
  }
}

/** How long a webhook delivery claim is kept: longer than any delivery is retried (24 h). */
export const WEBHOOK_CLAIM_TTL_MS = 25 * 3600_000;

/**
 * How long a party remembers a served client request: longer than the window in which a party
 * accepts a request at all (15 min), so an entry cannot expire while its request could still be replayed.
 */
export const SERVED_TTL_MS = 30 * 60_000;

/**
 * Creates or updates the control account's assets: the audit stream, the nonce and tenant buckets.
 * Each has its own byte limit inside the account's quota, so a full audit trail cannot stop
 * nonces (and with them every request) and the reverse.
 */
export async function provisionControl(
  nc: NatsConnection,
  options: { replicas?: number } = {},
): Promise<void> {
  const replicas = options.replicas ?? 1;
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, {
    name: AUDIT_STREAM,
    subjects: [auditSubject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_bytes: AUDIT_MAX_BYTES,
    discard: DiscardPolicy.New,
    allow_direct: true,
    deny_delete: true,
    deny_purge: true,
  });
  const kvm = new Kvm(nc);
  await kvm.create(NONCE_BUCKET, {
    replicas,
    storage: StorageType.File,
    history: 1,
    ttl: 5 * 60_000,
    max_bytes: 256 * 1024 ** 2,
  });
  await kvm.create(TENANTS_BUCKET, {
    replicas,
    storage: StorageType.File,
    history: 1,
    max_bytes: 64 * 1024 ** 2,
  });
}
