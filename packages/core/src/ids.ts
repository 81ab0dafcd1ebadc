/**
 * Identifiers derived from a client's signed request, so the API cannot choose them: the operation
 * id of any request and the key id of a new key are hashes of the tenant, the exact credential and
 * the request nonce the client signed. A party recomputes both and refuses a work item that names
 * others, so a replayed request can only ever name the same operation and the same key.
 * @module
 */
import { transcriptHash } from "./hash.js";

/** What a derived identifier is computed from (all of it covered by the client's signature). */
export interface RequestIdentity {
  readonly tenant: string;
  /** The client's credential exactly as it was sent. */
  readonly credential: string;
  /** The request nonce the client signed. */
  readonly nonce: string;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const derive = (what: string, r: RequestIdentity) =>
  hex(transcriptHash(`custody/${what}/v1`, [r.tenant, r.credential, r.nonce])).slice(0, 32);

/** Digest that names one client request (the served-request ledger's key). */
export function requestDigest(r: RequestIdentity): Uint8Array {
  return transcriptHash("custody/client-request/v1", [r.tenant, r.credential, r.nonce]);
}

/** The operation id of the operation a client request starts. */
export function operationIdOf(r: RequestIdentity): string {
  return `op_${derive("operation-id", r)}`;
}

/** The key id of the key a key-creation request creates. */
export function keyIdOf(r: RequestIdentity): string {
  return `key_${derive("key-id", r)}`;
}
