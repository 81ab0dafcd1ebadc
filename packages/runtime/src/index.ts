/**
 * @custody/runtime: the messaging runtime. Connections and identities, provisioning, the party
 * work loop, the session transport and heartbeats. Scheme-agnostic: protocols come in as hosts.
 * @module
 */

export type { UserPermissions } from "./access.js";
export {
  API_INBOX,
  apiPermissions,
  controlApiPermissions,
  controlWorkerPermissions,
  partyInbox,
  workerPermissions,
} from "./access.js";
export type {
  AuditCursor,
  AuditEntry,
  AuditRangeVerification,
  AuditRecord,
  AuditVerification,
} from "./audit.js";
export { AuditLog, chainHash, verifyAuditChain, verifyAuditRange } from "./audit.js";
export type { ConnectOptions, UserCredentials } from "./connect.js";
export { connectNats, publicKeyOfCredentials, readCreds } from "./connect.js";
export type { TransportErrorCode } from "./errors.js";
export { TransportError } from "./errors.js";
export type { WorkerSighting } from "./heartbeat.js";
export { HeartbeatPublisher, LivenessTracker, MISSED_HEARTBEATS } from "./heartbeat.js";
export type { Identity } from "./identity.js";
export { createIdentity, publicKeyOf, readSeed, writeCreds } from "./identity.js";
export { JobThreads, serveJobThread } from "./job-threads.js";
export type { MetricsListen, MetricsServer } from "./metrics-server.js";
export { parseListen, serveMetrics } from "./metrics-server.js";
export type { PartyDirectory, PartyIdentity } from "./party-identity.js";
export { createPartyIdentity, readDirectory, readPartyIdentity, writeDirectory } from "./party-identity.js";
export type { ProvisionOptions } from "./provision.js";
export { provisionControl, provisionTenant, WORK_DEFAULTS } from "./provision.js";
export type { PublishRetry } from "./publish.js";
export { publishDurably } from "./publish.js";
export type { PullEachOptions } from "./pull.js";
export { pullEach } from "./pull.js";
export { findResult, publishResult } from "./results.js";
export type { Revocation } from "./revocations.js";
export { CREDENTIAL_ID, credentialId, RevocationList } from "./revocations.js";
export {
  envelopeSigningBytes,
  ephemeralKeyPair,
  joinSigningBytes,
  SessionCipher,
  signAs,
  verifyFrom,
} from "./secure-channel.js";
export type { SessionHost } from "./session-host.js";
export { inProcessHost } from "./session-host.js";
export type { JoinInfo, RunSessionOptions, SessionOutcome } from "./session-transport.js";
export { deriveSessionId, MAX_ENVELOPE_BYTES, runSession } from "./session-transport.js";
export type { TenantEntry, TenantService } from "./tenants.js";
export { TENANT_NAME, TenantRegistry, TenantServices } from "./tenants.js";
export type { ThreadSessionFactory } from "./thread-host.js";
export { SessionThreadPool, serveSessionThread } from "./thread-host.js";
export { transientNatsError } from "./transient.js";
export type { JobOutcome, Logger, WorkContext, WorkHandler, WorkLoopOptions } from "./work-loop.js";
export { PermanentFailure, WorkLoop } from "./work-loop.js";
