/**
 * Job threads behave exactly like an inline map (outputs in order; the first failing input's
 * error, with its kind and culprits) while running jobs in other threads, and a helper that dies
 * fails the map instead of hanging it. The map blocks its caller, here the test's own thread.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, test } from "node:test";
import { threadId } from "node:worker_threads";
import { inline, type Job, ProtocolError } from "@custody/core";
import { JobThreads } from "../src/job-threads.js";
import { crashLater, exit, failOdd, square } from "./toy-jobs.js";

const SCRIPT = new URL("./toy-job-thread.js", import.meta.url);
const opened: JobThreads[] = [];
const threads = (size: number, timeoutMs?: number) => {
  const t = new JobThreads(SCRIPT, size, timeoutMs);
  opened.push(t);
  return t;
};
after(() => Promise.all(opened.map((t) => t.close())));

// First, so that no other test's helpers are still ending while it counts threads.
test("a job a helper does not know fails with its name, and close ends the helpers", {
  timeout: 30_000,
}, async () => {
  const threadsOfProcess = () => readdirSync("/proc/self/task").length;
  const before = threadsOfProcess();
  const jt = new JobThreads(SCRIPT, 1);
  const unknown = { name: "toy/unknown", run: (n: number) => n };
  assert.throws(() => jt.map(unknown, [1, 2]), /^Error: unknown job toy\/unknown$/);
  assert.ok(threadsOfProcess() > before);
  await jt.close();
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(threadsOfProcess() <= before, "the helper thread ended");
});

test("outputs come in input order and the work is spread over the caller and every helper", {
  timeout: 30_000,
}, () => {
  const inputs = [1n, 2n, 3n, 4n, 5n, 6n, 7n];
  const out = threads(2).map(square, inputs);
  assert.deepEqual(
    out.map((o) => o.value),
    inputs.map((n) => n * n),
  );
  const ran = new Set(out.map((o) => o.thread));
  assert.equal(ran.size, 3);
  assert.ok(ran.has(threadId));
  // Input i runs in lane i mod 3; lane 0 is the caller.
  assert.equal(out[3]!.thread, threadId);
  assert.notEqual(out[1]!.thread, threadId);
});

test("the first failing input's error is thrown, rebuilt with its kind and culprits", {
  timeout: 30_000,
}, () => {
  // Inputs 3 and 5 fail, both in lane 1 (a helper): input i runs in lane i mod 3, lane 0 the caller.
  const jt = threads(2);
  for (const map of [jt, inline]) {
    assert.throws(
      () => map.map(failOdd, [2, 3, 6, 8, 5]),
      (e) => {
        assert.ok(e instanceof ProtocolError);
        assert.equal(e.kind, "bad-message");
        assert.deepEqual([...e.culprits], [3]);
        assert.equal(e.message, "input 3 is odd (culprit: 3)");
        return true;
      },
    );
  }
  // A failure in the caller's own lane comes first when its input does.
  assert.throws(
    () => jt.map(failOdd, [1, 3]),
    (e) => e instanceof ProtocolError && e.culprits[0] === 1,
  );
  // A job's own error keeps the helpers: the same threads serve the next map.
  assert.deepEqual(jt.map(failOdd, [2, 4, 6]), [4, 16, 36]);
  const helpersBefore = jt.map(square, [1n, 2n, 3n]).map((o) => o.thread);
  assert.throws(() => jt.map(failOdd, [2, 3, 4]));
  assert.deepEqual(
    jt.map(square, [1n, 2n, 3n]).map((o) => o.thread),
    helpersBefore,
  );
});

test("no helpers, or a single input: everything runs in the caller", { timeout: 30_000 }, () => {
  assert.deepEqual(
    threads(0)
      .map(square, [2n, 3n])
      .map((o) => o.thread),
    [threadId, threadId],
  );
  assert.equal(threads(3).map(square, [9n])[0]!.thread, threadId);
});

test("a helper that dies fails the map within its timeout, and fresh helpers serve the next", {
  timeout: 30_000,
}, () => {
  const jt = threads(1, 1500);
  const t0 = Date.now();
  assert.throws(
    () => jt.map(exit, [1, 2]),
    (e) => e instanceof ProtocolError && e.kind === "internal" && /did not answer/.test(e.message),
  );
  assert.ok(Date.now() - t0 >= 1400);
  const out = jt.map(square, [2n, 3n]);
  assert.deepEqual(
    out.map((o) => o.value),
    [4n, 9n],
  );
  assert.notEqual(out[1]!.thread, threadId);
});

test("a dead helper fails the map once, not once per job it still owed", { timeout: 30_000 }, () => {
  const jt = threads(1, 1000);
  const t0 = Date.now();
  // Inputs 1, 3, 5 and 7 go to the helper, which exits on the first.
  assert.throws(
    () => jt.map(exit, [0, 1, 2, 3, 4, 5, 6, 7]),
    (e) => e instanceof ProtocolError && e.kind === "internal",
  );
  assert.ok(Date.now() - t0 < 3000, "one deadline for the whole map");
});

test("a map that fails while posting leaves no reply behind for the next one", { timeout: 30_000 }, () => {
  const jt = threads(1);
  // Input 1 is posted to the helper; input 3 cannot be cloned, so posting it throws.
  assert.throws(() => jt.map(square, [1n, 2n, 3n, (() => 4n) as unknown as bigint]), /could not be cloned/);
  assert.deepEqual(
    jt.map(square, [5n, 6n]).map((o) => o.value),
    [25n, 36n],
  );
});

test("a helper that dies of an uncaught error is replaced, and the caller survives", {
  timeout: 30_000,
}, async () => {
  const jt = threads(1);
  const first = jt.map(square, [1n, 2n])[1]!.thread;
  assert.deepEqual(jt.map(crashLater, [1, 2]), [1, 2]);
  await new Promise((r) => setTimeout(r, 300)); // the helper's error reaches this thread
  const next = jt.map(square, [3n, 4n]);
  assert.equal(next[1]!.value, 16n);
  assert.notEqual(next[1]!.thread, first);
});

test("a map started from inside one of its own jobs is refused", { timeout: 30_000 }, () => {
  const jt = threads(1);
  const reenter: Job<bigint, bigint> = { name: "toy/square", run: () => jt.map(square, [1n, 2n])[0]!.value };
  assert.throws(
    () => jt.map(reenter, [1n, 2n]),
    (e) => e instanceof ProtocolError && e.kind === "internal" && /already running/.test(e.message),
  );
  assert.equal(jt.map(square, [2n, 3n])[1]!.value, 9n);
});
