/**
 * @custody/runtime: the messaging runtime. Connections and identities, provisioning, the party
 * work loop, the session transport and heartbeats. Scheme-agnostic: protocols come in as hosts.
 * @module
 */
export { API_INBOX, DATA_ACCOUNT, accountsConfig, apiPermissions, partyInbox, workerPermissions } from "./access.js";
export type { AccessPlan } from "./access.js";
export { connectNats } from "./connect.js";
export type { ConnectOptions } from "./connect.js";
export { TransportError } from "./errors.js";
export type { TransportErrorCode } from "./errors.js";
export { HeartbeatPublisher, LivenessTracker, MISSED_HEARTBEATS } from "./heartbeat.js";
export type { WorkerSighting } from "./heartbeat.js";
export { createIdentity, publicKeyOf, readSeed } from "./identity.js";
export type { Identity } from "./identity.js";
export { WORK_DEFAULTS, provision } from "./provision.js";
export type { ProvisionOptions } from "./provision.js";
export { findResult, publishResult } from "./results.js";
export { inProcessHost } from "./session-host.js";
export type { SessionHost } from "./session-host.js";
export { MAX_ENVELOPE_BYTES, deriveSessionId, runSession } from "./session-transport.js";
export type { RunSessionOptions, SessionOutcome } from "./session-transport.js";
export { PermanentFailure, WorkLoop } from "./work-loop.js";
export type { Logger, WorkContext, WorkHandler, WorkLoopOptions } from "./work-loop.js";
