/**
 * Publishing work results durably. A result is published with message id `<operation>:<party>`,
 * so a retried or redelivered job cannot produce a second result for the same party, and the
 * publish is retried across leader elections with the same id.
 * @module
 */
import {
  fromBinary,
  RESULT_STREAM,
  resultSubject,
  toBinary,
  type WorkResult,
  WorkResultSchema,
} from "@custody/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { TransportError } from "./errors.js";

/** Publishes one party's result; retries for up to `retryForMs` (default 30 s). */
export async function publishResult(
  js: JetStreamClient,
  result: WorkResult,
  retryForMs = 30_000,
): Promise<void> {
  const bytes = toBinary(WorkResultSchema, result);
  const deadline = Date.now() + retryForMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await js.publish(resultSubject(result.operationId, result.party), bytes, {
        msgID: `${result.operationId}:${result.party}`,
        timeout: 5000,
      });
      return;
    } catch (e) {
      if (Date.now() > deadline)
        throw new TransportError("publish-failed", "could not publish a result", [], { cause: e });
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
  }
}

/**
 * The result this party already published for an operation, if any (read through direct get on the
 * result stream). Lets a redelivered job return its first outcome instead of running again.
 */
export async function findResult(
  js: JetStreamClient,
  operationId: string,
  party: number,
): Promise<WorkResult | undefined> {
  try {
    const stream = await js.streams.get(RESULT_STREAM);
    const m = await stream.getMessage({ last_by_subj: resultSubject(operationId, party) });
    return m ? fromBinary(WorkResultSchema, m.data) : undefined;
  } catch {
    return undefined;
  }
}
