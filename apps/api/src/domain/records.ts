/**
 * The API's durable records, stored as JSON in its KV buckets: keys (public facts and the active
 * epoch) and operations (status and outcome). Nothing secret is ever stored here.
 * @module
 */

/** Operation kinds. */
export type OperationType = "dkg" | "sign" | "refresh";
/** Lifecycle of an operation. */
export type OperationStatus = "pending" | "succeeded" | "failed";
/** Lifecycle of a key. */
export type KeyStatus = "creating" | "active" | "failed";

/** A threshold key as clients see it. */
export interface KeyRecord {
  id: string;
  /** Tenant that owns the key (from the creating client's credential). */
  tenant: string;
  scheme: string;
  threshold: number;
  parties: number[];
  label?: string;
  status: KeyStatus;
  /** Hex; set once DKG completed. */
  publicKey?: string;
  /** Hex BIP32 chain code (secp256k1 keys). */
  chainCode?: string;
  /** Hex 33-byte compressed key that BIP32 derivation starts from (secp256k1 keys). */
  derivationKey?: string;
  /** Active share epoch: the one signing uses. */
  epoch: number;
  /** Operation that created the key. */
  operationId: string;
  /** Refresh operation in progress, if any. */
  refreshing?: string;
  /** The highest epoch any refresh of this key aimed at (the next one aims past it). */
  lastTargetEpoch?: number;
  createdAt: string;
  updatedAt: string;
}

/** What identifies a key and never changes once its DKG completed: what a signature is checked against. */
export type KeyIdentity = Pick<KeyRecord, "id" | "scheme" | "publicKey" | "chainCode" | "derivationKey">;

/** The failure of an operation. */
export interface OperationError {
  code: string;
  message: string;
  culprits: number[];
}

/** A BIP341 Taproot output (hex keys): what a bip340 key or a Taproot signature is shown with. */
export interface TaprootView {
  /** x-only internal key P (the key, or its child along the path). */
  internalKey: string;
  /** x-only output key Q = P + H_TapTweak(P || merkleRoot)·G. */
  outputKey: string;
  /** Script tree root, when one was committed. */
  merkleRoot?: string;
  /** Mainnet `bc1p…` address of Q. */
  address: string;
}

/** A signature produced by an operation. */
export interface SignatureOutcome {
  signature: string;
  publicKey: string;
  keyId: string;
  epoch: number;
  recoveryId?: number;
  der?: string;
  path?: string;
}

/** One message of a signing batch as its operation records it (hex message, lower case). */
export interface SignItemRecord {
  message: string;
  path?: string;
  /** The Taproot output this item signs for, when the batch asked for Taproot. */
  taproot?: TaprootView;
}

/** Where a running operation is; after the end, its terminal status. */
export type ProgressPhase = "queued" | "session" | "stored" | "activating" | "succeeded" | "failed";

/** Progress of an operation while it runs (DKG and refresh: up to activation; sign: the session). */
export interface OperationProgress {
  phase: ProgressPhase;
  /** Highest delivery count at which a party started a session for it (0: none started yet). */
  attempt: number;
  /** DKG and refresh: parties that stored their share so far... */
  stored?: number;
  /** ...of this many. */
  of?: number;
  /** When the progress last changed. */
  at: string;
}

/** An accepted request and its progress. */
export interface OperationRecord {
  id: string;
  type: OperationType;
  status: OperationStatus;
  keyId: string;
  /** Tenant of the key and of the requesting client. */
  tenant: string;
  /** Parties that take part (signers for sign, all parties for DKG and refresh). */
  participants: number[];
  /** Per-party reported outcome: `stored`, `activated`, `signed`, `skipped` (not for a sign: its parties are its signers), `failed`, `rejected`. */
  reports: Record<string, string>;
  /** Per-party session ids (DKG and refresh), to check that all parties ran the same session. */
  sessions?: Record<string, string>;
  /** Per-party signed confirmations of the stored share (hex), forwarded in the activation. */
  confirmations?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** Digest of the client's method, target and body: a reused Idempotency-Key must carry the same. */
  fingerprint?: string;
  /**
   * For sign: the request, with the Taproot output it signs for when it asked for one. A batch
   * lists its messages in `items` (each with its path and Taproot output); `message` is then empty.
   */
  request?: {
    message: string;
    path?: string;
    epoch: number;
    taproot?: TaprootView;
    items?: SignItemRecord[];
  };
  /** For refresh: the epoch being created. */
  targetEpoch?: number;
  signature?: SignatureOutcome;
  /** For a signing batch: every signature, in the order of `request.items`. */
  signatures?: SignatureOutcome[];
  error?: OperationError;
  /** Absent until the first change after creation (it reads as `queued`). */
  progress?: OperationProgress;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** JSON-encodes a record for KV. */
export const encodeRecord = (r: object): Uint8Array => enc.encode(JSON.stringify(r));
/** Parses a KV record. */
export const decodeRecord = <T>(b: Uint8Array): T => JSON.parse(dec.decode(b)) as T;
