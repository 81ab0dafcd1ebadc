/**
 * The client of one Custody API: signs every request with the client's key, retries refused
 * requests that are safe to repeat (see {@link RetryPolicy}), gives every operation-starting call an
 * Idempotency-Key (the same one across its retries) and follows operations to their end.
 * @module
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { canonicalPath, signRequest } from "@custody/credentials";
import { OperationError } from "./errors.js";
import { ApiProblem } from "./problems.js";
import { DEFAULT_RETRY, parseRetryAfter, RETRYABLE_STATUS, type RetryPolicy, retryDelay } from "./retry.js";
import type {
  CredentialView,
  Key,
  Operation,
  OperationPage,
  OperationQuery,
  Revocation,
  Scheme,
  Signature,
  SignBatchInput,
  SignInput,
} from "./types.js";

/** Options of a request that starts an operation. */
export interface RequestOptions {
  /**
   * Makes a repeated request return the same operation. Default: a fresh key per call, reused by that
   * call's retries; pass your own (e.g. from {@link newIdempotencyKey}, stored) to resume after a crash.
   */
  idempotencyKey?: string;
  /**
   * Asks the API to hold its answer up to this many seconds (at most 60) for the operation's end
   * (`Prefer: wait=N`), so the returned operation has usually ended already. Default: no wait.
   */
  waitSeconds?: number;
}

/** Options of a call that waits for its operation. */
export interface WaitOptions extends RequestOptions {
  /** How long to follow the operation. Default 120 000. */
  timeoutMs?: number;
}

/** A client identity: its NKey seed (secret, stays here) and its credential (public). */
export interface ClientIdentity {
  readonly seed: string;
  readonly credential: string;
}

/** `o` with the answer held for the operation's end, up to its timeout (30 s at most per request). */
const held = (o: WaitOptions): WaitOptions => ({
  ...o,
  waitSeconds: o.waitSeconds ?? Math.min(30, Math.floor((o.timeoutMs ?? 120_000) / 1000)),
});

/** Milliseconds left until `deadline`. */
const left = (deadline: number) => Math.max(0, deadline - Date.now());

/** Options of a {@link CustodyClient}. */
export interface ClientOptions {
  /** Retry policy (fields not given keep their defaults); `{ retries: 0 }` turns retrying off. */
  retry?: Partial<RetryPolicy>;
}

/** Input of POST /v1/keys. */
export interface CreateKeyInput {
  scheme: Scheme | (string & {});
  threshold: number;
  parties: number;
  label?: string;
}

/** A fresh random Idempotency-Key. */
export const newIdempotencyKey = (): string => `sdk-${randomBytes(16).toString("hex")}`;

function parseBody(res: Response, text: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const json: unknown = JSON.parse(text);
    if (json !== null && typeof json === "object" && !Array.isArray(json))
      return json as Record<string, unknown>;
  } catch {
    // Falls through to the typed problem below: the body is not JSON.
  }
  throw new ApiProblem(res.status, "about:blank", "The response is not a JSON object", undefined, {});
}

/** Client of one Custody API. Every request is signed with the client's key. */
export class CustodyClient {
  private readonly retry: RetryPolicy;

  constructor(
    private readonly baseUrl: string,
    private readonly identity?: ClientIdentity,
    options: ClientOptions = {},
  ) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
    waitSeconds?: number,
  ): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const bytes = new TextEncoder().encode(text ?? "");
    // Sent exactly as signed: the canonical target passes through fetch unchanged.
    const target = canonicalPath(path);
    const safe = method === "GET" || idempotencyKey !== undefined;
    for (let attempt = 0; ; attempt++) {
      // Signed afresh each attempt: the API refuses a replayed nonce.
      const auth = this.identity
        ? signRequest(this.identity.seed, this.identity.credential, method, target, bytes)
        : {};
      const res = await fetch(new URL(target, this.baseUrl), {
        method,
        headers: {
          ...(text !== undefined ? { "content-type": "application/json" } : {}),
          ...(idempotencyKey !== undefined ? { "idempotency-key": idempotencyKey } : {}),
          ...(waitSeconds !== undefined && waitSeconds > 0
            ? { prefer: `wait=${Math.ceil(waitSeconds)}` }
            : {}),
          ...auth,
        },
        body: text,
      });
      const json = parseBody(res, await res.text());
      if (res.ok) return json as T;
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
      const problem = new ApiProblem(
        res.status,
        String(json.type ?? "about:blank"),
        String(json.title ?? res.statusText),
        typeof json.detail === "string" ? json.detail : undefined,
        json,
        retryAfterMs,
      );
      const delay =
        safe && RETRYABLE_STATUS.has(res.status) ? retryDelay(this.retry, attempt, retryAfterMs) : undefined;
      if (delay === undefined) throw problem;
      await sleep(delay);
    }
  }

  /** Starts DKG of a new key. */
  createKey(input: CreateKeyInput, o?: RequestOptions) {
    return this.call<Operation>(
      "POST",
      "/v1/keys",
      input,
      o?.idempotencyKey ?? newIdempotencyKey(),
      o?.waitSeconds,
    );
  }
  /** Runs DKG of a new key and returns the key. @throws OperationError when the DKG fails or times out */
  async createKeyAndWait(input: CreateKeyInput, o: WaitOptions = {}): Promise<Key> {
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    const done = await this.waitForSuccess(await this.createKey(input, held(o)), left(deadline));
    return this.getKey(done.keyId);
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
    return this.call<Operation>(
      "POST",
      `/v1/keys/${encodeURIComponent(keyId)}/sign`,
      input,
      o?.idempotencyKey ?? newIdempotencyKey(),
      o?.waitSeconds,
    );
  }
  /** Signs and returns the signature. @throws OperationError when signing fails or times out */
  async signAndWait(keyId: string, input: SignInput, o: WaitOptions = {}): Promise<Signature> {
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    const done = await this.waitForSuccess(await this.sign(keyId, input, held(o)), left(deadline));
    if (!done.signature) throw new OperationError(done);
    return done.signature;
  }
  /**
   * Starts signing every message of `input` as one batch: one operation, one protocol session;
   * its `signatures` come in the order of `input.messages`.
   */
  signBatch(keyId: string, input: SignBatchInput, o?: RequestOptions) {
    return this.call<Operation>(
      "POST",
      `/v1/keys/${encodeURIComponent(keyId)}/sign`,
      input,
      o?.idempotencyKey ?? newIdempotencyKey(),
      o?.waitSeconds,
    );
  }
  /**
   * Signs a batch and returns its signatures, in the order of `input.messages`.
   * @throws OperationError when signing fails or times out
   */
  async signBatchAndWait(keyId: string, input: SignBatchInput, o: WaitOptions = {}): Promise<Signature[]> {
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    const done = await this.waitForSuccess(await this.signBatch(keyId, input, held(o)), left(deadline));
    if (done.signatures?.length !== input.messages.length) throw new OperationError(done);
    return done.signatures;
  }
  /** Starts a refresh. */
  refresh(keyId: string, o?: RequestOptions) {
    return this.call<Operation>(
      "POST",
      `/v1/keys/${encodeURIComponent(keyId)}/refresh`,
      undefined,
      o?.idempotencyKey ?? newIdempotencyKey(),
      o?.waitSeconds,
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
  /** The tenant's failed operations (dead letters), newest first, at most `limit` (1–1000, default 100). */
  async deadLetters(limit?: number): Promise<Operation[]> {
    const query = limit === undefined ? "" : `?limit=${limit}`;
    return (await this.call<{ operations: Operation[] }>("GET", `/v1/dead-letters${query}`)).operations;
  }
  /** Follows an operation until it is no longer pending or `timeoutMs` passed (an ended one is returned as is). */
  async wait(op: Operation | string, timeoutMs = 120_000): Promise<Operation> {
    if (typeof op !== "string" && op.status !== "pending") return op;
    const id = typeof op === "string" ? op : op.id;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      const cur = await this.operation(id, Math.min(left, 30));
      if (cur.status !== "pending" || Date.now() >= deadline) return cur;
    }
  }
  /** Follows an operation to success. @throws OperationError when it fails or is still pending at `timeoutMs` */
  async waitForSuccess(op: Operation | string, timeoutMs?: number): Promise<Operation> {
    const done = await this.wait(op, timeoutMs);
    if (done.status !== "succeeded") throw new OperationError(done);
    return done;
  }
}
