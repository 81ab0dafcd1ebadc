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
import { publishDurably } from "./publish.js";

/** Publishes one party's result; retries for up to `retryForMs` (default 30 s). */
export async function publishResult(
  js: JetStreamClient,
  result: WorkResult,
  retryForMs = 30_000,
): Promise<void> {
  try {
    await publishDurably(
      js,
      resultSubject(result.operationId, result.party),
      toBinary(WorkResultSchema, result),
      `${result.operationId}:${result.party}`,
      { retryForMs },
    );
  } catch (e) {
    throw new TransportError("publish-failed", "could not publish a result", [], { cause: e });
  }
}

/**
 * The result this party already published for an operation, if any (read through direct get on the
 * result stream, the only read a worker is allowed). Lets a redelivered job return its first outcome
 * instead of running again. Rejects when the stream cannot be read, so the caller retries later
 * instead of mistaking an unreachable stream for "no result yet".
 */
export async function findResult(
  js: JetStreamClient,
  operationId: string,
  party: number,
): Promise<WorkResult | undefined> {
  const jsm = await js.jetstreamManager(false);
  const m = await jsm.direct.getMessage(RESULT_STREAM, { last_by_subj: resultSubject(operationId, party) });
  return m ? fromBinary(WorkResultSchema, m.data) : undefined;
}
