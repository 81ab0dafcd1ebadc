/**
 * The one way Custody reads a durable pull consumer: one message at a time, until told to stop.
 * A failed pull (broker away, leader moving) is logged and retried after a short pause; what to
 * do with each message, and how to ack it, is the caller's.
 * @module
 */
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "./work-loop.js";

/** How to pull. */
export interface PullEachOptions {
  /** How long one pull request waits for a message. */
  readonly expiresMs: number;
  /** Checked before every pull. */
  readonly stopped: () => boolean;
  readonly log: Logger;
  /** What the consumer delivers, for the log (`result`, `advisory`, `work item`). */
  readonly what: string;
  /** Handles (and acks) one message. */
  readonly handle: (msg: JsMsg) => Promise<void>;
}

/** Pulls and handles messages until `stopped()`; resolves once the last handled message is done. */
export async function pullEach(consumer: Consumer, o: PullEachOptions): Promise<void> {
  while (!o.stopped()) {
    let msg: JsMsg | null = null;
    try {
      msg = await consumer.next({ expires: o.expiresMs });
    } catch (e) {
      if (!o.stopped()) o.log.warn({ err: String(e) }, `${o.what} pull failed`);
      await new Promise((r) => setTimeout(r, 500));
    }
    if (msg) await o.handle(msg);
  }
}
