/**
 * @custody/core: what every protocol package shares. Pure; depends only on @noble/hashes.
 * @module
 */

export type { BatchSignItem } from "./batch.js";
export {
  batch,
  batchInstanceSessionId,
  decodeBatchPayload,
  encodeBatchPayload,
  MAX_BATCH,
  signBatch,
} from "./batch.js";
export { equalBytes } from "./bytes.js";
export { DecodeError, decodeWith, Reader, Writer } from "./codec.js";
export { verifyEd25519 } from "./ed25519.js";
export type { AbortKind } from "./errors.js";
export { check, ProtocolError } from "./errors.js";
export type { HashPart } from "./hash.js";
export { frame, Transcript, transcriptHash } from "./hash.js";
export type { RequestIdentity } from "./ids.js";
export { keyIdOf, operationIdOf, requestDigest } from "./ids.js";
export type { LocalRun, LocalRunOptions, Tamper } from "./local.js";
export { runLocal } from "./local.js";
export type { ProtocolMessage, Recipient } from "./message.js";
export type { Job, ParallelMap } from "./parallel.js";
export { inline } from "./parallel.js";
export type { PartyId } from "./party.js";
export { assertPartySet, assertThreshold, isPartyId, MAX_PARTY_ID } from "./party.js";
export type { Round, RoundExpectation, Step } from "./round.js";
export { done, mapStep, next } from "./round.js";
export type {
  KeygenParams,
  RefreshParams,
  Scheme,
  SessionParams,
  ShareInfo,
  SignatureOutput,
  SignParams,
} from "./scheme.js";
export type { SessionOptions } from "./session.js";
export { Session } from "./session.js";
