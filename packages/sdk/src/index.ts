/**
 * @custody/sdk: a small typed client of the Custody HTTP API. Long operations are returned as
 * operations; {@link CustodyClient.wait} follows one to its end.
 * @module
 */
import { canonicalPath, signRequest } from "@custody/credentials";

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

/** An RFC 9457 problem returned by the API. */
export class ApiProblem extends Error {
  override readonly name = "ApiProblem";
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string | undefined,
    readonly body: Record<string, unknown>,
  ) {
    super(`${title}${detail ? `: ${detail}` : ""} (${type})`);
  }
}

/** Options of a request. */
export interface RequestOptions {
  /** Makes a retried request return the same operation. */
  idempotencyKey?: string;
}

/** A client identity: its NKey seed (secret, stays here) and its credential (public). */
export interface ClientIdentity {
  readonly seed: string;
  readonly credential: string;
}

/** Client of one Custody API. Every request is signed with the client's key. */
export class CustodyClient {
  constructor(
    private readonly baseUrl: string,
    private readonly identity?: ClientIdentity,
  ) {}

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const bytes = new TextEncoder().encode(text ?? "");
    // Sent exactly as signed: the canonical target passes through fetch unchanged.
    const target = canonicalPath(path);
    const auth = this.identity
      ? signRequest(this.identity.seed, this.identity.credential, method, target, bytes)
      : {};
    const res = await fetch(new URL(target, this.baseUrl), {
      method,
      headers: { ...(text !== undefined ? { "content-type": "application/json" } : {}), ...auth, ...headers },
      body: text,
    });
    const reply = await res.text();
    const json = reply ? (JSON.parse(reply) as Record<string, unknown>) : {};
    if (!res.ok) {
      throw new ApiProblem(
        res.status,
        String(json.type ?? "about:blank"),
        String(json.title ?? res.statusText),
        json.detail as string | undefined,
        json,
      );
    }
    return json as T;
  }

  private idem(o?: RequestOptions): Record<string, string> {
    return o?.idempotencyKey ? { "idempotency-key": o.idempotencyKey } : {};
  }

  /** Starts DKG of a new key. */
  createKey(
    input: { scheme: string; threshold: number; parties: number; label?: string },
    o?: RequestOptions,
  ) {
    return this.call<Operation>("POST", "/v1/keys", input, this.idem(o));
  }
  /** All keys. */
  async listKeys(): Promise<Key[]> {
    return (await this.call<{ keys: Key[] }>("GET", "/v1/keys")).keys;
  }
  /** One key. */
  getKey(id: string) {
    return this.call<Key>("GET", `/v1/keys/${encodeURIComponent(id)}`);
  }
  /** Starts signing `message` (hex). */
  sign(keyId: string, input: SignInput, o?: RequestOptions) {
    return this.call<Operation>("POST", `/v1/keys/${encodeURIComponent(keyId)}/sign`, input, this.idem(o));
  }
  /** Starts a refresh. */
  refresh(keyId: string, o?: RequestOptions) {
    return this.call<Operation>(
      "POST",
      `/v1/keys/${encodeURIComponent(keyId)}/refresh`,
      undefined,
      this.idem(o),
    );
  }
  /** One operation, waiting up to `waitSeconds` for its end. */
  operation(id: string, waitSeconds = 0) {
    return this.call<Operation>("GET", `/v1/operations/${encodeURIComponent(id)}?wait=${waitSeconds}`);
  }
  /** Revokes a client credential of the caller's tenant, given in full or by its id (admins only). */
  revokeCredential(target: { credential: string } | { id: string }, reason?: string) {
    return this.call<Revocation>("POST", "/v1/credentials/revoke", {
      ...target,
      ...(reason !== undefined ? { reason } : {}),
    });
  }
  /** Registers a credential the caller (an admin) issued for its tenant, so it can be listed and revoked. */
  registerCredential(credential: string) {
    return this.call<CredentialView>("POST", "/v1/credentials", { credential });
  }
  /** The tenant's credentials known to the API (admins and auditors). */
  async listCredentials(): Promise<CredentialView[]> {
    return (await this.call<{ credentials: CredentialView[] }>("GET", "/v1/credentials")).credentials;
  }
  /** One page of the tenant's operations, newest first. */
  listOperations(q: OperationQuery = {}) {
    const query = new URLSearchParams(
      Object.entries(q)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    return this.call<OperationPage>("GET", `/v1/operations${query ? `?${query}` : ""}`);
  }
  /** Follows an operation until it is no longer pending or `timeoutMs` passed. */
  async wait(op: Operation | string, timeoutMs = 120_000): Promise<Operation> {
    const id = typeof op === "string" ? op : op.id;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      const cur = await this.operation(id, Math.min(left, 30));
      if (cur.status !== "pending" || Date.now() >= deadline) return cur;
    }
  }
}
