/**
 * RFC 9457 problem details. Every error the API returns is `application/problem+json` with a
 * stable `type` URI; clients switch on `type`, never on `detail`.
 * @module
 */

/** Stable problem codes; the `type` is `urn:custody:problem:<code>`. */
export type ProblemCode =
  | "invalid-request"
  | "uri-too-long"
  | "not-found"
  | "key-not-active"
  | "conflict"
  | "idempotency-key-reused"
  | "no-quorum"
  | "unavailable"
  | "rate-limited"
  | "unauthorized"
  | "forbidden"
  | "unknown-tenant"
  | "internal";

const STATUS: Record<ProblemCode, number> = {
  "invalid-request": 400,
  "uri-too-long": 414,
  unauthorized: 401,
  forbidden: 403,
  "unknown-tenant": 403,
  "not-found": 404,
  conflict: 409,
  "key-not-active": 409,
  "idempotency-key-reused": 422,
  "rate-limited": 429,
  internal: 500,
  "no-quorum": 503,
  unavailable: 503,
};

const TITLE: Record<ProblemCode, string> = {
  "invalid-request": "The request is invalid",
  "uri-too-long": "The request URI is too long",
  unauthorized: "Authentication required",
  forbidden: "Not allowed",
  "unknown-tenant": "The tenant is not served here",
  "not-found": "Not found",
  conflict: "Conflicting request",
  "key-not-active": "The key is not active",
  "idempotency-key-reused": "The Idempotency-Key was used for another request",
  "rate-limited": "Too many requests",
  internal: "Internal error",
  "no-quorum": "Not enough live parties",
  unavailable: "Service temporarily unavailable",
};

/** Every problem code. */
export const problemCodes = (): ProblemCode[] => Object.keys(STATUS) as ProblemCode[];
/** The HTTP status a problem code is sent with. */
export const problemStatus = (code: ProblemCode): number => STATUS[code];
/** The title of a problem code. */
export const problemTitle = (code: ProblemCode): string => TITLE[code];

/** The type URI of a problem code. */
export const problemType = (code: ProblemCode) => `urn:custody:problem:${code}`;

/** An error that the API renders as problem+json. */
export class Problem extends Error {
  override readonly name = "Problem";
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    /** Seconds for a `Retry-After` header. */
    readonly retryAfter?: number,
  ) {
    super(detail);
  }

  /** HTTP status of this problem. */
  get status(): number {
    return STATUS[this.code];
  }

  /** The problem+json body. */
  body(instance?: string): Record<string, unknown> {
    return {
      type: problemType(this.code),
      title: TITLE[this.code],
      status: this.status,
      detail: this.detail,
      instance,
      ...this.extra,
    };
  }
}
