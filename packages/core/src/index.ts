/**
 * @custody/core: what every protocol package shares. Pure; depends only on @noble/hashes.
 * @module
 */
export { Reader, Writer, DecodeError, decodeWith } from "./codec.js";
export { ProtocolError, check } from "./errors.js";
export type { AbortKind } from "./errors.js";
export { Transcript, frame, transcriptHash } from "./hash.js";
export type { HashPart } from "./hash.js";
export type { ProtocolMessage, Recipient } from "./message.js";
export { MAX_PARTY_ID, assertPartySet, assertThreshold, isPartyId } from "./party.js";
export type { PartyId } from "./party.js";
export { done, next } from "./round.js";
export type { Round, RoundExpectation, Step } from "./round.js";
export { Session } from "./session.js";
export type { SessionOptions } from "./session.js";
export { runLocal } from "./local.js";
export type { LocalRun, LocalRunOptions, Tamper } from "./local.js";
export type {
  KeygenParams,
  RefreshParams,
  Scheme,
  SessionParams,
  ShareInfo,
  SignParams,
  SignatureOutput,
} from "./scheme.js";
export { equalBytes } from "./bytes.js";
