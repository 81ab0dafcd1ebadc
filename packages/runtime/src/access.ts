/**
 * Who may do what on the broker. Renders the `accounts` block of the nats-server configuration:
 * one data-plane account whose users are NKey identities with least-privilege subject permissions.
 * A party's worker can only pull its own consumer, use its own share bucket, publish protocol
 * messages and results as itself and receive only what is addressed to it; the API cannot read
 * shares. The broker enforces the sender token of every protocol subject.
 * @module
 */
import {
  ADVISORY_CONSUMER,
  ADVISORY_STREAM,
  AUDIT_STREAM,
  auditSubject,
  IDEMPOTENCY_BUCKET,
  KEYS_BUCKET,
  NONCE_BUCKET,
  OPERATIONS_BUCKET,
  partyConsumer,
  REQUEST_STREAM,
  RESULT_CONSUMER,
  RESULT_STREAM,
  shareBucket,
} from "@custody/proto";

/** A configuration value in nats-server's format (same shape as @custody/natsd's ConfValue). */
type Conf = string | number | boolean | Conf[] | { [key: string]: Conf | undefined };

/** Data-plane account name. */
export const DATA_ACCOUNT = "CUSTODY";

/** The public keys of every identity that may connect. */
export interface AccessPlan {
  /** Provisioning identity: creates streams, consumers and buckets. Full rights in the account. */
  readonly admin: string;
  /** API identities. */
  readonly api: readonly string[];
  /** Worker identities, each bound to one party. */
  readonly workers: readonly { readonly party: number; readonly publicKey: string }[];
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

/** Subject permissions of one party's workers. */
export function workerPermissions(party: number): Conf {
  const bucket = shareBucket(party);
  const consumer = partyConsumer(party);
  return {
    publish: {
      allow: [
        `$JS.API.CONSUMER.INFO.${REQUEST_STREAM}.${consumer}`,
        `$JS.API.CONSUMER.MSG.NEXT.${REQUEST_STREAM}.${consumer}`,
        `$JS.ACK.${REQUEST_STREAM}.${consumer}.>`,
        `$JS.API.STREAM.INFO.${RESULT_STREAM}`,
        `$JS.API.DIRECT.GET.${RESULT_STREAM}.>`,
        `$JS.API.STREAM.MSG.GET.${RESULT_STREAM}`,
        `custody.res.*.${party}`,
        ...kvRead(bucket),
        `$KV.${bucket}.>`,
        `custody.s.*.join.${party}`,
        `custody.s.*.m.*.${party}`,
        `custody.hb.${party}.>`,
      ],
    },
    subscribe: {
      allow: [`${partyInbox(party)}.>`, "custody.s.*.join.*", `custody.s.*.m.${party}.*`],
    },
    allow_responses: { max: 1, expires: "2m" },
  };
}

/**
 * Subject permissions of the API: requests, its own buckets, the result and advisory consumers, and
 * reads of single work items and results (to settle dead letters); never shares.
 */
export function apiPermissions(): Conf {
  const buckets = [OPERATIONS_BUCKET, KEYS_BUCKET, IDEMPOTENCY_BUCKET, NONCE_BUCKET];
  return {
    publish: {
      allow: [
        "custody.req.>",
        "custody.evt.>",
        ...buckets.flatMap((b) => [`$KV.${b}.>`, ...kvRead(b), ...kvList(b)]),
        `$JS.API.STREAM.INFO.${REQUEST_STREAM}`,
        auditSubject,
        `$JS.API.STREAM.INFO.${AUDIT_STREAM}`,
        `$JS.API.DIRECT.GET.${AUDIT_STREAM}`,
        `$JS.API.DIRECT.GET.${AUDIT_STREAM}.>`,
        `$JS.API.STREAM.MSG.GET.${AUDIT_STREAM}`,
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
    subscribe: { allow: [`${API_INBOX}.>`, "custody.hb.>", "custody.evt.>"] },
  };
}

/** The `accounts` block for the server configuration. */
export function accountsConfig(plan: AccessPlan): Record<string, Conf> {
  const users: Conf[] = [
    { nkey: plan.admin },
    ...plan.api.map((nkey) => ({ nkey, permissions: apiPermissions() })),
    ...plan.workers.map((w) => ({ nkey: w.publicKey, permissions: workerPermissions(w.party) })),
  ];
  return {
    accounts: {
      [DATA_ACCOUNT]: {
        jetstream: "enabled",
        limits: { max_connections: 1000, max_subscriptions: 100_000, max_payload: 2 * 1024 * 1024 },
        users,
      },
    },
  };
}
