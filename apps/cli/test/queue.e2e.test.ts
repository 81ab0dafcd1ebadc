/**
 * Work distribution across the workers of each party: every request runs once per party, the
 * workers of a party share the load, and a worker killed with work in flight loses no request.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { CustodyClient, type Operation } from "@custody/sdk";
import type { Stack } from "../src/index.js";
import {
  eventually,
  logRecords,
  startTestStack,
  stopTestStack,
  verifyEd25519,
  workerName,
} from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;
let keyId: string;
let publicKey: string;

before(async () => {
  stack = await startTestStack({ parties: 3, workers: 2 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  const op = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  keyId = op.keyId;
  publicKey = (await api.getKey(keyId)).publicKey!;
});
after(() => stopTestStack(stack));

async function submit(count: number) {
  const messages = Array.from({ length: count }, () => randomBytes(32));
  const ops = await Promise.all(messages.map((m) => api.sign(keyId, { message: m.toString("hex") })));
  return { messages, ops };
}

async function settle(ops: Operation[], timeoutMs: number) {
  return Promise.all(ops.map((o) => api.wait(o, timeoutMs)));
}

/** Operation ids each worker of `party` finished, from the worker logs. */
function finishedBy(party: number): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const w of [1, 2]) {
    const name = workerName(party, w);
    for (const r of logRecords(stack!, name)) {
      if (r.msg !== "work item done") continue;
      const id = String(r.operationId);
      by.set(id, [...(by.get(id) ?? []), name]);
    }
  }
  return by;
}

test("each request runs exactly once per party, and a party's workers share the load", async () => {
  const { messages, ops } = await submit(16);
  const done = await settle(ops, 90_000);
  done.forEach((op, i) => {
    assert.equal(op.status, "succeeded", JSON.stringify(op.error));
    assert.ok(verifyEd25519(publicKey, messages[i]!, op.signature!.signature));
  });
  await eventually(
    () => [1, 2, 3].every((p) => ops.every((o) => finishedBy(p).has(o.id))),
    20_000,
    "every party to finish (or skip) every request",
  );
  let sharing = 0;
  for (const party of [1, 2, 3]) {
    const by = finishedBy(party);
    for (const op of ops) assert.equal(by.get(op.id)?.length, 1, `party ${party} ran ${op.id} once`);
    const workers = new Set(ops.map((o) => by.get(o.id)![0]));
    if (workers.size === 2) sharing++;
  }
  assert.ok(sharing >= 1, "at least one party spread its work over both workers");
});

test("a worker killed with work in flight loses no request", async () => {
  const { messages, ops } = await submit(20);
  await new Promise((r) => setTimeout(r, 300));
  await stack!.kill(workerName(1, 1));
  const done = await settle(ops, 150_000);
  done.forEach((op, i) => {
    assert.equal(op.status, "succeeded", `${op.id}: ${JSON.stringify(op.error)}`);
    assert.ok(verifyEd25519(publicKey, messages[i]!, op.signature!.signature));
  });
});
