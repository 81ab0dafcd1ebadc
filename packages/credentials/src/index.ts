/**
 * @custody/credentials: client credentials, signed requests, roles. Pure (no I/O).
 * @module
 */

export { verifyEd25519 } from "@custody/core";
export type { Action } from "./authorize.js";
export { allows, authorize } from "./authorize.js";
export type { VerifiedCredential } from "./chain.js";
export { CHAIN_SEPARATOR, delegateCredential, inspectCredential, verifyCredential } from "./chain.js";
export type { CredentialClaims, Role } from "./credential.js";
export {
  createAuthority,
  createClientKey,
  credentialId,
  issueCredential,
  publicKeyOfSeed,
} from "./credential.js";
export type { AuthCode } from "./errors.js";
export { AuthError } from "./errors.js";
export { canonicalPath } from "./path.js";
export type { SignedRequest } from "./request.js";
export {
  AUTH_HEADERS,
  credentialDigest,
  requestFromHeaders,
  requestSigningBytes,
  signRequest,
  verifyRequest,
} from "./request.js";
