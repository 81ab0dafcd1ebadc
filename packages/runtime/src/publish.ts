/**
 * Durable publishing across leader elections. A JetStream publish that times out or finds no
 * responder may or may not have been stored, so it is retried with the same message id: the
 * stream's duplicate window turns a repeat into a no-op, and a publisher sees exactly one stored
 * message or an error. Answers that retrying cannot change (the stream is full, the message is too
 * large, ...) end the loop at once.
 * @module
 */
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";

/** JetStream error code of a store failure (e.g. a full stream with discard-new). */
const STORE_FAILED = 10077;

/** True when a failed publish may succeed if repeated (timeouts, no leader, reconnecting). */
export function retryablePublishError(e: unknown): boolean {
  const err = e as { name?: unknown; status?: unknown; code?: unknown };
  if (err?.name !== "JetStreamApiError") return true;
  return err.status === 503 && err.code !== STORE_FAILED;
}

/** How long and how hard to try. */
export interface PublishRetry {
  /** Give up after this long (ms). Default 30 s, well inside the 10 min duplicate window. */
  readonly retryForMs?: number;
  /** Timeout of one attempt (ms). Default 5 s. */
  readonly attemptTimeoutMs?: number;
}

/**
 * Publishes `data` with message id `msgID`, retrying retryable failures with backoff until
 * `retryForMs` passed; rejects with the last error.
 */
export async function publishDurably(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  msgID: string,
  retry: PublishRetry = {},
): Promise<PubAck> {
  const deadline = Date.now() + (retry.retryForMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    const timeout = Math.max(500, Math.min(retry.attemptTimeoutMs ?? 5000, deadline - Date.now()));
    try {
      return await js.publish(subject, data, { msgID, timeout });
    } catch (e) {
      const backoff = Math.min(100 * 2 ** attempt, 2000);
      if (!retryablePublishError(e) || Date.now() + backoff >= deadline) throw e;
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}
