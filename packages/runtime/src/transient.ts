/**
 * Recognises NATS failures that are temporary: the broker or a stream leader did not answer in
 * time, or there is no leader or no connection right now. Callers map them to "retry later"
 * (HTTP 503 with Retry-After) instead of an internal error.
 * @module
 */

const TRANSIENT_NAMES = new Set([
  "TimeoutError",
  "NoRespondersError",
  "JetStreamNotEnabled",
  "ConnectionError",
  "ClosedConnectionError",
  "DrainingConnectionError",
]);

/** JetStream error code of a store failure (a full stream): not temporary. */
const STORE_FAILED = 10077;

/** True when `e` is a temporary NATS or JetStream failure (timeout, no leader, no connection). */
export function transientNatsError(e: unknown): boolean {
  const err = e as { name?: unknown; status?: unknown; code?: unknown } | undefined;
  if (typeof err?.name !== "string") return false;
  if (TRANSIENT_NAMES.has(err.name)) return true;
  return err.name === "JetStreamApiError" && err.status === 503 && err.code !== STORE_FAILED;
}
