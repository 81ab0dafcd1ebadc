/**
 * A client that behaves the way a careful Custody client should under faults: every request is
 * signed with the client's credential, carries an Idempotency-Key and is retried with the same key
 * on network errors, 5xx and 429 (honouring Retry-After), and waiting for an operation survives
 * API restarts.
 * @module
 */
import { randomBytes } from "node:crypto";
import { signRequest } from "@custody/credentials";
import type { ClientIdentity, Operation } from "@custody/sdk";

/** How a submission ended. */
export type Submitted =
  | { readonly accepted: true; readonly operation: Operation }
  | { readonly accepted: false; readonly code: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const problemCode = (body: unknown) =>
  String((body as { type?: string })?.type ?? "")
    .split(":")
    .pop() ?? "";

/** A fault-tolerant client of one API URL. */
export class PatientClient {
  constructor(
    private readonly baseUrl: () => string,
    private readonly identity: ClientIdentity,
  ) {}

  /** A signed request (each attempt is signed anew: a signature is good for one request). */
  private request(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    timeoutMs: number,
  ) {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const auth = signRequest(
      this.identity.seed,
      this.identity.credential,
      method,
      path,
      new TextEncoder().encode(text ?? ""),
    );
    return fetch(`${this.baseUrl()}${path}`, {
      method,
      headers: { ...(text === undefined ? {} : { "content-type": "application/json" }), ...auth, ...headers },
      body: text,
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  /**
   * POSTs a work request until it is accepted (202) or refused for a reason retrying cannot fix
   * (the problem code). Gives up after `retryForMs` with `gave-up (<last answer>)`.
   */
  async submit(path: string, body: unknown, retryForMs = 60_000): Promise<Submitted> {
    const key = `chaos-${randomBytes(12).toString("hex")}`;
    const deadline = Date.now() + retryForMs;
    let conflicts = 0;
    let last = "network";
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      let res: Response;
      let json: unknown;
      try {
        res = await this.request("POST", path, body, { "idempotency-key": key }, 40_000);
        json = await res.json();
      } catch {
        last = "network";
        await sleep(Math.min(200 * 2 ** attempt, 2000));
        continue;
      }
      if (res.status === 202) return { accepted: true, operation: json as Operation };
      const code = problemCode(json);
      last = code || `http-${res.status}`;
      const retryable =
        res.status === 429 ||
        (res.status >= 500 && code !== "no-quorum") ||
        (code === "conflict" && /still being accepted/.test(String((json as { detail?: string }).detail)));
      if (!retryable || (code === "conflict" && ++conflicts > 20)) return { accepted: false, code };
      const after = Number(res.headers.get("retry-after"));
      await sleep(after > 0 ? Math.min(after * 1000, 5000) : Math.min(200 * 2 ** attempt, 2000));
    }
    return { accepted: false, code: `gave-up (${last})` };
  }

  /**
   * One POST without retries (overload probes): the operation when accepted, else the problem
   * code (`network` when there was no answer).
   */
  async once(path: string, body: unknown): Promise<Submitted> {
    try {
      const res = await this.request("POST", path, body, {}, 40_000);
      const json = (await res.json()) as unknown;
      return res.status === 202
        ? { accepted: true, operation: json as Operation }
        : { accepted: false, code: problemCode(json) || `http-${res.status}` };
    } catch {
      return { accepted: false, code: "network" };
    }
  }

  /** A key record, or undefined when the API cannot be reached or does not know it. */
  async key(id: string): Promise<{ id: string; scheme: string; publicKey?: string } | undefined> {
    try {
      const res = await this.request("GET", `/v1/keys/${id}`, undefined, {}, 10_000);
      return res.ok ? ((await res.json()) as { id: string; scheme: string; publicKey?: string }) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The operation, or undefined when the API cannot be reached or does not know it. */
  async get(id: string, waitSeconds = 0): Promise<Operation | undefined> {
    try {
      const res = await this.request(
        "GET",
        `/v1/operations/${id}?wait=${waitSeconds}`,
        undefined,
        {},
        waitSeconds * 1000 + 10_000,
      );
      return res.ok ? ((await res.json()) as Operation) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Follows an operation until it leaves `pending`, `until()` says stop, or `timeoutMs` passed. */
  async settle(
    id: string,
    timeoutMs: number,
    until: () => boolean = () => false,
  ): Promise<Operation | undefined> {
    const deadline = Date.now() + timeoutMs;
    let last: Operation | undefined;
    while (Date.now() < deadline && !until()) {
      const op = await this.get(id, Math.max(0, Math.min(5, Math.floor((deadline - Date.now()) / 1000))));
      if (op) last = op;
      if (op && op.status !== "pending") return op;
      if (!op) await sleep(500);
    }
    return last;
  }
}
