/**
 * RFC 9457 problems returned by the API. Switch on {@link ApiProblem.code} (or `type`), never on
 * `detail`.
 * @module
 */

/** The API's stable problem codes; each one's `type` is `urn:custody:problem:<code>`. */
export const PROBLEM_CODES = [
  "invalid-request",
  "uri-too-long",
  "not-found",
  "key-not-active",
  "conflict",
  "idempotency-key-reused",
  "no-quorum",
  "unavailable",
  "rate-limited",
  "unauthorized",
  "forbidden",
  "unknown-tenant",
  "internal",
] as const;

/** A stable problem code of the API. */
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/**
 * A problem type: one of the API's stable types, or `about:blank` for an error response that is not
 * one of them (a proxy's page, a newer server's type: the received body is kept in `body`).
 */
export type ProblemType = `urn:custody:problem:${ProblemCode}` | "about:blank";

const PREFIX = "urn:custody:problem:";
const CODES = new Set<string>(PROBLEM_CODES);

/** The problem type of a received `type` value: a known stable type, else `about:blank`. */
export function problemTypeOf(received: unknown): ProblemType {
  return typeof received === "string" &&
    received.startsWith(PREFIX) &&
    CODES.has(received.slice(PREFIX.length))
    ? (received as ProblemType)
    : "about:blank";
}

/** An RFC 9457 problem returned by the API (or an unusable response, as `about:blank`). */
export class ApiProblem extends Error {
  override readonly name = "ApiProblem";
  /** The problem type; a type this SDK does not know is `about:blank` (the received one is in `body.type`). */
  readonly type: ProblemType;
  /** Milliseconds the server asked the client to wait (`Retry-After`), when it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly status: number,
    type: string,
    readonly title: string,
    readonly detail: string | undefined,
    readonly body: Record<string, unknown>,
    retryAfterMs?: number,
  ) {
    const known = problemTypeOf(type);
    super(`${title}${detail ? `: ${detail}` : ""} (${type})`);
    this.type = known;
    this.retryAfterMs = retryAfterMs;
  }

  /** The stable problem code, or undefined for `about:blank`. */
  get code(): ProblemCode | undefined {
    return this.type === "about:blank" ? undefined : (this.type.slice(PREFIX.length) as ProblemCode);
  }
}

/** Whether `e` is an {@link ApiProblem}, and, when `code` is given, one of that code. */
export function isApiProblem(e: unknown, code?: ProblemCode): e is ApiProblem {
  return e instanceof ApiProblem && (code === undefined || e.code === code);
}
