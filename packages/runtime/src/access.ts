/**
 * Who may do what on the broker: the subject permissions carried by user JWTs. Every tenant's data
 * plane (work items, results, buckets, shares, protocol traffic) lives in that tenant's own account,
 * so tenants cannot reach each other even when subjects collide; the control account holds what is
 * not tenant data (the tenant registry, heartbeats, the audit trail, request nonces). Within an
 * account a party's worker can only pull its own consumer, use its own share and served-request
 * buckets, read the credential revocations, publish
 * protocol messages and results as itself and receive only what is addressed to it; the API cannot
 * read shares. The broker enforces the sender token of every protocol subject.
 * @module
 */
import {
  ADVISORY_CONSUMER,
  ADVISORY_STREAM,
  AUDIT_STREAM,
  auditSubject,
  heartbeatWildcard,
  IDEMPOTENCY_BUCKET,
  KEYS_BUCKET,
  NONCE_BUCKET,
  OPERATIONS_BUCKET,
  partyConsumer,
  REQUEST_STREAM,
  RESULT_CONSUMER,
  RESULT_STREAM,
  REVOCATIONS_BUCKET,
  servedBucket,
  shareBucket,
  TENANTS_BUCKET,
  WEBHOOK_CLAIMS_BUCKET,
  WEBHOOKS_BUCKET,
} from "@custody/proto";

/** Subject permissions of a user, in user-JWT form (`resp.ttl` in nanoseconds). */
export interface UserPermissions {
  readonly pub: { readonly allow: string[] };
  readonly sub: { readonly allow: string[] };
  readonly resp?: { readonly max: number; readonly ttl: number };
}

/** Inbox prefix of a party's workers; only they may subscribe below it. */
export function partyInbox(party: number): string {
  return `_INBOX_p${party}`;
}
/** Inbox prefix of API processes. */
export const API_INBOX = "_INBOX_api";

const kvRead = (bucket: string) => [
  `$JS.API.STREAM.INFO.KV_${bucket}`,
  `$JS.API.DIRECT.GET.KV_${bucket}.>`,
  `$JS.API.STREAM.MSG.GET.KV_${bucket}`,
];
const kvList = (bucket: string) => [
  `$JS.API.CONSUMER.CREATE.KV_${bucket}`,
  `$JS.API.CONSUMER.CREATE.KV_${bucket}.>`,
  `$JS.API.CONSUMER.DELETE.KV_${bucket}.>`,
  `$JS.API.CONSUMER.INFO.KV_${bucket}.>`,
  `$JS.FC.KV_${bucket}.>`,
];

/** Permissions of one party's workers in a tenant account. */
export function workerPermissions(party: number): UserPermissions {
  const bucket = shareBucket(party);
  const served = servedBucket(party);
  const consumer = partyConsumer(party);
  return {
    pub: {
      allow: [
        `$JS.API.CONSUMER.INFO.${REQUEST_STREAM}.${consumer}`,
        `$JS.API.CONSUMER.MSG.NEXT.${REQUEST_STREAM}.${consumer}`,
        `$JS.ACK.${REQUEST_STREAM}.${consumer}.>`,
        `$JS.API.STREAM.INFO.${RESULT_STREAM}`,
        `$JS.API.DIRECT.GET.${RESULT_STREAM}.>`,
        `$JS.API.STREAM.MSG.GET.${RESULT_STREAM}`,
        `custody.res.*.${party}`,
        `custody.res.*.${party}.progress`,
        ...kvRead(bucket),
        `$KV.${bucket}.>`,
        ...kvRead(served),
        `$KV.${served}.>`,
        ...kvRead(REVOCATIONS_BUCKET),
        `custody.s.*.join.${party}`,
        `custody.s.*.m.*.${party}`,
      ],
    },
    sub: { allow: [`${partyInbox(party)}.>`, "custody.s.*.join.*", `custody.s.*.m.${party}.*`] },
    resp: { max: 1, ttl: 120e9 },
  };
}

/**
 * Permissions of the API in a tenant account: requests, its buckets (webhook subscriptions and
 * delivery claims among them: no other identity may touch those), the result and advisory consumers, and reads of single work items and results (to settle dead letters); never shares.
 */
export function apiPermissions(): UserPermissions {
  // Buckets the API lists or watches, and ones it only reads and writes by key. Every entry
  // lengthens the user JWT, which must fit the broker's 4 KiB protocol line.
  const listed = [OPERATIONS_BUCKET, KEYS_BUCKET, REVOCATIONS_BUCKET];
  const byKey = [IDEMPOTENCY_BUCKET, WEBHOOKS_BUCKET, WEBHOOK_CLAIMS_BUCKET];
  return {
    pub: {
      allow: [
        "custody.req.>",
        "custody.evt.>",
        ...listed.flatMap((b) => [`$KV.${b}.>`, ...kvRead(b), ...kvList(b)]),
        ...byKey.flatMap((b) => [`$KV.${b}.>`, ...kvRead(b)]),
        `$JS.API.STREAM.INFO.${REQUEST_STREAM}`,
        `$JS.API.STREAM.MSG.GET.${REQUEST_STREAM}`,
        `$JS.API.STREAM.INFO.${RESULT_STREAM}`,
        `$JS.API.DIRECT.GET.${RESULT_STREAM}.>`,
        `$JS.API.STREAM.MSG.GET.${RESULT_STREAM}`,
        `$JS.API.CONSUMER.INFO.${RESULT_STREAM}.${RESULT_CONSUMER}`,
        `$JS.API.CONSUMER.MSG.NEXT.${RESULT_STREAM}.${RESULT_CONSUMER}`,
        `$JS.ACK.${RESULT_STREAM}.${RESULT_CONSUMER}.>`,
        `$JS.API.CONSUMER.INFO.${ADVISORY_STREAM}.${ADVISORY_CONSUMER}`,
        `$JS.API.CONSUMER.MSG.NEXT.${ADVISORY_STREAM}.${ADVISORY_CONSUMER}`,
        `$JS.ACK.${ADVISORY_STREAM}.${ADVISORY_CONSUMER}.>`,
      ],
    },
    sub: { allow: [`${API_INBOX}.>`, "custody.evt.>"] },
  };
}

/**
 * Reading the tenant registry without consumers: stream info (with subject counts), direct gets,
 * and a plain subscription to its updates. No identity may create consumers in the control
 * account: a push consumer can deliver into any subject, the audit stream's included.
 */
const registryRead = () => ({ pub: kvRead(TENANTS_BUCKET), sub: [`$KV.${TENANTS_BUCKET}.>`] });

/** Permissions of one party's workers in the control account: heartbeats, reading the registry. */
export function controlWorkerPermissions(party: number): UserPermissions {
  const registry = registryRead();
  return {
    pub: { allow: [`custody.hb.${party}.>`, ...registry.pub] },
    sub: { allow: [`${partyInbox(party)}.>`, ...registry.sub] },
  };
}

/** Permissions of the API in the control account: liveness, the registry, nonces, the audit trail. */
export function controlApiPermissions(): UserPermissions {
  const registry = registryRead();
  return {
    pub: {
      allow: [
        ...registry.pub,
        `$KV.${NONCE_BUCKET}.>`,
        ...kvRead(NONCE_BUCKET),
        auditSubject,
        `$JS.API.STREAM.INFO.${AUDIT_STREAM}`,
        `$JS.API.DIRECT.GET.${AUDIT_STREAM}`,
        `$JS.API.DIRECT.GET.${AUDIT_STREAM}.>`,
        `$JS.API.STREAM.MSG.GET.${AUDIT_STREAM}`,
      ],
    },
    sub: { allow: [`${API_INBOX}.>`, heartbeatWildcard, ...registry.sub] },
  };
}
