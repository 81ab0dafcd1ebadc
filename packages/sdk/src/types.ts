/**
 * The resources of the Custody HTTP API, as the SDK returns them.
 * @module
 */

/** A signature scheme of a threshold key. */
export type Scheme = "ed25519" | "bip340" | "ecdsa-secp256k1";

/** A threshold key. */
export interface Key {
  id: string;
  scheme: string;
  threshold: number;
  parties: number[];
  label?: string;
  status: "creating" | "active" | "failed";
  publicKey?: string;
  chainCode?: string;
  xpub?: string;
  /** bip340 keys: the BIP86 Taproot output key (x-only, tweaked with no script tree) and its address. */
  taproot?: TaprootOutput;
  epoch: number;
  operationId: string;
  refreshing?: string;
  createdAt: string;
  updatedAt: string;
}

/** A Taproot output: the x-only output key Q = P + H_TapTweak(P || merkleRoot)·G and its address. */
export interface TaprootOutput {
  /** x-only internal key P (hex, 32 bytes). */
  internalKey: string;
  /** x-only output key Q (hex, 32 bytes). */
  outputKey: string;
  /** Script tree root, when one was committed (hex, 32 bytes). */
  merkleRoot?: string;
  /** Mainnet `bc1p…` address of the output key. */
  address: string;
}

/** Input of a signature: the message and, optionally, a BIP32 path and the BIP341 tweak. */
export interface SignInput {
  /** Message (hex; a 32-byte digest for ecdsa-secp256k1). */
  message: string;
  /** BIP32 non-hardened path, e.g. `m/0/5`. */
  path?: string;
  /** bip340 keys only: sign for the Taproot output key (none = BIP86, or with a script tree root). */
  taproot?: { merkleRoot?: string };
}

/** Input of a signing batch: up to 256 messages (ecdsa-secp256k1: 32), each with its own path. */
export interface SignBatchInput {
  /** The messages, each hex (a 32-byte digest for ecdsa-secp256k1) with an optional BIP32 path. */
  messages: { message: string; path?: string }[];
  /** bip340 only: sign every message for its key's BIP341 Taproot output key (no merkleRoot: BIP86). */
  taproot?: { merkleRoot?: string };
}

/** A produced signature. */
export interface Signature {
  signature: string;
  publicKey: string;
  keyId: string;
  epoch: number;
  recoveryId?: number;
  der?: string;
  path?: string;
  /** Present when the signature was made for a Taproot output key (then `publicKey` is that key). */
  taproot?: TaprootOutput;
}

/** An accepted request. */
export interface Operation {
  id: string;
  type: "dkg" | "sign" | "refresh";
  status: "pending" | "succeeded" | "failed";
  keyId: string;
  participants: number[];
  reports: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  targetEpoch?: number;
  signature?: Signature;
  /** A signing batch: every signature, in the order of the request's messages. */
  signatures?: Signature[];
  error?: { code: string; message: string; culprits: number[] };
}

/** A revoked client credential. */
export interface Revocation {
  /** The credential id: hex SHA-256 of the credential under the `custody/credential-id/v1` tag. */
  id: string;
  tenant: string;
  revokedAt: string;
  reason: string;
}

/** A client credential known to the API (registered by an admin of the tenant, or seen in use). */
export interface CredentialView {
  /** The credential id: hex SHA-256 of the credential under the `custody/credential-id/v1` tag. */
  id: string;
  name: string;
  role: "admin" | "signer" | "auditor";
  tenant: string;
  keys: string[];
  /** Public key (`U...`) of the client holding it. */
  subject: string;
  /** Who signed it: an authority (`O...`) or, for a delegated credential, the issuing admin (`U...`). */
  issuer: string;
  issuedAt: string;
  expiresAt: string;
  revoked?: { at: string; reason: string };
}

/** Filter and page of GET /v1/operations. */
export interface OperationQuery {
  status?: "pending" | "succeeded" | "failed";
  type?: "dkg" | "sign" | "refresh";
  keyId?: string;
  /** Page size, 1–100 (default 50). */
  limit?: number;
  /** The `next` cursor of the previous page. */
  cursor?: string;
}

/** One page of operations, newest first. */
export interface OperationPage {
  operations: Operation[];
  /** Cursor of the next page; absent on the last one. */
  next?: string;
}
