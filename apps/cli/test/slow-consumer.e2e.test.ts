/**
 * Fail closed on slow consumers: a worker that stops reading while traffic for its session piles up
 * is cut off by the broker (write deadline / max pending); it notices the disconnect, aborts the
 * running session (its work item is retried under a new session or ends failed with a typed reason),
 * reconnects, and serves new work.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { CustodyClient } from "@custody/sdk";
import type { Stack } from "../src/index.js";
import { adminConnection } from "./broker.js";
import { eventually, logRecords, startTestStack, stopTestStack, workerName } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({ parties: 3, joinTimeoutMs: 20_000 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(() => stopTestStack(stack));

test("a paused worker flooded inside a session is cut as a slow consumer, aborts the session, and nothing is lost", async () => {
  const varz = async () =>
    ((await (await fetch(`${stack!.nats.monitorUrl}/varz`)).json()) as { slow_consumers: number })
      .slow_consumers;
  const slowBefore = await varz();
  // Party 3 pauses, so the DKG's join barrier stays open while parties 1 and 2 listen on it.
  stack!.signal(workerName(3, 1), "SIGSTOP");
  const op = await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 });
  const victim = workerName(1, 1);
  await new Promise((r) => setTimeout(r, 1000)); // the victim pulled the item and listens on its join subject
  stack!.signal(victim, "SIGSTOP");
  const nc = await adminConnection(stack!);
  const chunk = randomBytes(512 * 1024);
  for (let i = 0; i < 48; i++) {
    nc.publish(`custody.s.${op.id}.join.9`, chunk);
    if (i % 8 === 7) await nc.flush();
  }
  await eventually(async () => (await varz()) > slowBefore, 20_000, "the broker to cut the slow consumer");
  await nc.close();
  stack!.signal(victim, "SIGCONT");
  await eventually(
    () => logRecords(stack!, victim).some((r) => String(r.msg).includes("disconnected from NATS")),
    20_000,
    "the worker to notice the disconnect",
  );
  stack!.signal(workerName(3, 1), "SIGCONT");
  // The interrupted DKG reaches a terminal state: done, or failed with a typed reason (never lost).
  const done = await api.wait(op, 120_000);
  assert.notEqual(done.status, "pending");
  if (done.status === "failed") assert.match(done.error!.code, /^[a-z-]+$/);
  // The cut worker is back: a fresh DKG with all three parties completes.
  await stack!.waitReady();
  const again = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
  assert.equal(again.status, "succeeded", JSON.stringify(again.error));
});
