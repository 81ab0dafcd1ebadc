/**
 * Retry policy of the client: which answers are retried, and after how long. Only 429 and 503 are
 * retried, only for requests that are safe to repeat (reads, and writes that carry an
 * Idempotency-Key), at most `retries` times, never sooner than the server's `Retry-After`.
 * @module
 */

/** How the client retries a refused request. */
export interface RetryPolicy {
  /** Extra attempts after the first (0 turns retrying off). Default 3. */
  retries: number;
  /** Delay before the first retry when the server sent no `Retry-After`; doubles each time. Default 250. */
  baseDelayMs: number;
  /** Longest delay the client accepts: a longer `Retry-After` ends retrying with the problem. Default 10 000. */
  maxDelayMs: number;
}

/** The default policy. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 3, baseDelayMs: 250, maxDelayMs: 10_000 };

/** Statuses that mean "try again later". */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 503]);

/**
 * Milliseconds a `Retry-After` value asks for: delay-seconds or an HTTP date (relative to `nowMs`);
 * undefined for an absent or malformed value.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) || !/[a-z]/i.test(v) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Delay before retry number `attempt` (0-based), or undefined when the policy says stop: no attempts
 * left, or the server asks for longer than `maxDelayMs`.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined) {
  if (attempt >= policy.retries) return undefined;
  const delay = retryAfterMs ?? policy.baseDelayMs * 2 ** attempt;
  return delay > policy.maxDelayMs ? undefined : delay;
}
