import assert from "node:assert/strict";
import { test } from "node:test";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { publishDurably, retryablePublishError } from "../src/publish.js";
import { transientNatsError } from "../src/transient.js";

const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });
const apiError = (status: number, code: number) => named("JetStreamApiError", { status, code });

/** A client whose publish fails with `failures` in turn, then acks; records every message id. */
function fakeJs(failures: Error[]) {
  const ids: string[] = [];
  const js = {
    publish: async (_subject: string, _data: Uint8Array, o: { msgID: string }) => {
      ids.push(o.msgID);
      const f = failures.shift();
      if (f) throw f;
      return { stream: "S", seq: 1, duplicate: ids.length > 1 } as PubAck;
    },
  } as unknown as JetStreamClient;
  return { js, ids };
}

test("a publish is retried with the same message id across timeouts and elections", async () => {
  const { js, ids } = fakeJs([named("TimeoutError"), named("JetStreamNotEnabled"), apiError(503, 10008)]);
  const ack = await publishDurably(js, "s", new Uint8Array(), "op_1", { retryForMs: 5000 });
  assert.equal(ack.seq, 1);
  assert.deepEqual(ids, ["op_1", "op_1", "op_1", "op_1"]);
});

test("answers retrying cannot change end the loop at once", async () => {
  for (const e of [apiError(400, 10054), apiError(503, 10077)]) {
    const { js, ids } = fakeJs([e]);
    await assert.rejects(publishDurably(js, "s", new Uint8Array(), "op_2", { retryForMs: 5000 }), e);
    assert.equal(ids.length, 1);
  }
});

test("the retry gives up after its horizon with the last error", async () => {
  const { js, ids } = fakeJs(Array.from({ length: 100 }, () => named("TimeoutError")));
  const started = Date.now();
  await assert.rejects(publishDurably(js, "s", new Uint8Array(), "op_3", { retryForMs: 800 }));
  assert.ok(Date.now() - started < 2000);
  assert.ok(ids.length >= 2);
});

test("transient and retryable errors are told apart from permanent ones", () => {
  for (const e of [named("TimeoutError"), named("NoRespondersError"), apiError(503, 10008)]) {
    assert.ok(transientNatsError(e), e.name);
    assert.ok(retryablePublishError(e), e.name);
  }
  for (const e of [apiError(400, 10054), apiError(503, 10077), new Error("bug"), undefined]) {
    assert.ok(!transientNatsError(e));
  }
  assert.ok(!retryablePublishError(apiError(503, 10077)));
});
