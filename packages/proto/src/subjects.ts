/**
 * NATS subject, stream, consumer and bucket names. The .proto files document which message travels
 * on which subject; this module builds the strings so no other code concatenates subjects.
 * @module
 */

/** Operations a work item can carry; the third token of a request subject. */
export type WorkOp = "dkg" | "sign" | "refresh" | "activate";

/** A subject token: no dots, wildcards or whitespace. Throws otherwise. */
export function token(value: string | number): string {
  const s = String(value);
  if (s.length === 0 || s.length > 128 || !/^[A-Za-z0-9_-]+$/.test(s)) {
    throw new RangeError(`invalid subject token: ${JSON.stringify(s).slice(0, 40)}`);
  }
  return s;
}

/** Stream of work items (limits retention, file storage, de-duplication by operation id). */
export const REQUEST_STREAM = "CUSTODY_REQ";
/** Stream of per-party results. */
export const RESULT_STREAM = "CUSTODY_RES";
/** Durable consumer of the result stream used by the API instances (they compete). */
export const RESULT_CONSUMER = "api";
/** KV bucket of operation records (API-owned). */
export const OPERATIONS_BUCKET = "custody_ops";
/** KV bucket of key records: public facts and the active epoch (API-owned). */
export const KEYS_BUCKET = "custody_keys";
/** KV bucket mapping Idempotency-Key headers to operation ids. */
export const IDEMPOTENCY_BUCKET = "custody_idem";
/** Stream of the hash-chained audit trail (append-only: deny delete and purge). */
export const AUDIT_STREAM = "CUSTODY_AUDIT";
/** Subject of audit entries. */
export const auditSubject = "custody.audit";
/** KV bucket of request nonces already used (replay protection of signed API requests). */
export const NONCE_BUCKET = "custody_nonces";
/** KV bucket of the control account: one entry per tenant (its account and its users' JWTs). */
export const TENANTS_BUCKET = "custody_tenants";

/** Every subject of the request stream. */
export const requestSubjects = "custody.req.>";
/** Every subject of the result stream. */
export const resultSubjects = "custody.res.>";

/** Durable consumer name of one party on the request stream. */
export function partyConsumer(party: number): string {
  return `party${token(party)}`;
}
/** Encrypted share bucket of one party. */
export function shareBucket(party: number): string {
  return `custody_shares_p${token(party)}`;
}
/** One party's ledger of client requests it served (replay protection; entries expire after the acceptance window). */
export function servedBucket(party: number): string {
  return `custody_served_p${token(party)}`;
}
/** KV bucket of a tenant's webhook subscriptions, their delivery state and delivery claims (API-owned). */
export const WEBHOOKS_BUCKET = "custody_webhooks";
/** KV bucket of create-only webhook delivery claims, one per (subscription, operations revision); entries expire. */
export const WEBHOOK_CLAIMS_BUCKET = "custody_webhook_claims";
/** KV bucket of a tenant's revoked client credentials (API writes, every party reads). */
export const REVOCATIONS_BUCKET = "custody_revocations";

/** Subject of a work item. */
export function requestSubject(op: WorkOp, operationId: string): string {
  return `custody.req.${op}.${token(operationId)}`;
}
/** Suffix of an activation's operation id (appended to its DKG's or refresh's id). */
export const ACTIVATION_SUFFIX = "-activate";
/** Operation id of the activation that follows DKG or refresh `operationId`. */
export function activationOperationId(operationId: string): string {
  return token(`${operationId}${ACTIVATION_SUFFIX}`);
}

/** Subject of one party's result for an operation. */
export function resultSubject(operationId: string, party: number): string {
  return `custody.res.${token(operationId)}.${token(party)}`;
}
/** Subject of one party's progress reports for an operation (never read as its result). */
export function progressSubject(operationId: string, party: number): string {
  return `${resultSubject(operationId, party)}.progress`;
}
/** Session join announcements of one party for an operation. */
export function joinSubject(operationId: string, party: number): string {
  return `custody.s.${token(operationId)}.join.${token(party)}`;
}
/** Wildcard for every party's join announcement of an operation. */
export function joinWildcard(operationId: string): string {
  return `custody.s.${token(operationId)}.join.*`;
}
/** Point-to-point protocol message subject; the broker can enforce the `from` token. */
export function messageSubject(sessionIdHex: string, to: number, from: number): string {
  return `custody.s.${token(sessionIdHex)}.m.${token(to)}.${token(from)}`;
}
/** Wildcard for every protocol message addressed to `to` in a session. */
export function messageInbox(sessionIdHex: string, to: number): string {
  return `custody.s.${token(sessionIdHex)}.m.${token(to)}.*`;
}
/** Heartbeat subject of one worker. */
export function heartbeatSubject(party: number, workerId: string): string {
  return `custody.hb.${token(party)}.${token(workerId)}`;
}
/** Wildcard for every heartbeat. */
export const heartbeatWildcard = "custody.hb.>";
/** Best-effort notice that an operation reached a terminal state. */
export function operationEventSubject(operationId: string): string {
  return `custody.evt.op.${token(operationId)}`;
}

/** Stream that keeps the broker's dead-letter advisories about work items (max deliveries, terminated). */
export const ADVISORY_STREAM = "CUSTODY_ADV";
/** Durable consumer of the advisory stream used by the API instances (they compete). */
export const ADVISORY_CONSUMER = "api";
/** Advisory subjects the advisory stream captures: work items given up by a party's consumer. */
export const advisorySubjects = [
  `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${REQUEST_STREAM}.*`,
  `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${REQUEST_STREAM}.*`,
] as const;
