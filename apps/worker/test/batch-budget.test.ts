/**
 * The derivation budget of a signing batch at the party: a batch work item whose paths hold more
 * than MAX_PATH_COMPONENTS_PER_REQUEST components in all ends as a permanent `bad-work-item`
 * before the party looks up the key or starts a session, even when the client signed exactly
 * those paths (a hostile API skipping its own check). At the budget, the item goes on to the key
 * lookup (here: an unknown key).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { MAX_PATH_COMPONENTS_PER_REQUEST, type WorkItem } from "@custody/proto";
import { PermanentFailure } from "@custody/runtime";
import { type JobEnv, runJob } from "../src/jobs.js";
import { Bench, type Client, ctxOf } from "./harness.js";

let bench: Bench;
let client: Client;
let env: JobEnv;

before(async () => {
  bench = await Bench.start([1, 2]);
  client = bench.client();
  env = await bench.worker(1, randomBytes(32));
});
after(async () => {
  await env?.nc.close();
  await bench?.stop();
});

const _hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A batch work item exactly as the client signed it: every message with its own path. */
function batchItem(scheme: string, paths: number[][]): WorkItem {
  const items = paths.map((path) => ({ message: randomBytes(32), path }));
  return client.signBatch("k_nowhere", scheme, 0, [1, 2], items);
}

const isCode = (code: string, text?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, code, e.message);
  if (text) assert.match(e.message, text);
  return true;
};

/** `n` paths of `len` components each, plus one of `rest` components when `rest` > 0. */
const paths = (n: number, len: number, rest = 0) => [
  ...Array.from({ length: n }, (_, i) => Array.from({ length: len }, (_, j) => (i + j) % 7)),
  ...(rest > 0 ? [Array.from({ length: rest }, () => 1)] : []),
];

test("the budget is 1024 path components per request", () => {
  assert.equal(MAX_PATH_COMPONENTS_PER_REQUEST, 1024);
});

for (const scheme of ["bip340", "ecdsa-secp256k1"]) {
  test(`${scheme}: a batch over the derivation budget is a bad work item before the key is looked up`, async () => {
    // 4 × 255 + 5 = 1025 components, every path within the single-request limit of 255.
    await assert.rejects(
      runJob(env, ctxOf(batchItem(scheme, paths(4, 255, 5)))),
      isCode("bad-work-item", /at most 1024 path components in all; this batch has 1025/),
    );
    // Many short paths count alike: 32 × 33 = 1056.
    await assert.rejects(
      runJob(env, ctxOf(batchItem(scheme, paths(32, 33)))),
      isCode("bad-work-item", /this batch has 1056/),
    );
  });

  test(`${scheme}: a batch at the derivation budget goes on to the key`, async () => {
    await assert.rejects(runJob(env, ctxOf(batchItem(scheme, paths(4, 255, 4)))), isCode("key-not-active"));
  });
}
