/**
 * The session thread pool: a thread that finished its session serves the next one (warm), two
 * sessions at once get two threads, and a thread closed in the middle of a call or one that died
 * is never handed out again.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { SessionThreadPool } from "../src/thread-host.js";

const SCRIPT = new URL("./toy-session-thread.js", import.meta.url);
const pool = new SessionThreadPool(SCRIPT, 2);
after(() => pool.close());

type Out = { thread: number; n: number };

async function run(mode: "id" | "slow", n: number): Promise<Out> {
  const host = pool.host<Out>({ mode, n });
  try {
    await host.start();
    const r = await host.result();
    assert.ok(r);
    return r.value;
  } finally {
    await host.close();
  }
}

describe("session thread pool", { timeout: 30_000 }, () => {
  test("a thread that finished its session serves the next one", async () => {
    const first = await run("id", 1);
    const second = await run("id", 2);
    assert.deepEqual([second.thread, second.n], [first.thread, 2]);
  });

  test("a closed session's calls never reach its thread's next session", async () => {
    const old = pool.host<Out>({ mode: "id", n: 1 });
    await old.start();
    await old.close();
    const next = pool.host<Out>({ mode: "id", n: 2 });
    await assert.rejects(old.result(), /session closed/);
    await assert.rejects(
      old.deliver({ from: 1, round: 1, payload: new Uint8Array() } as never),
      /session closed/,
    );
    await next.start();
    assert.equal((await next.result())?.value.n, 2);
    await next.close();
  });

  test("two sessions at once run in two threads", async () => {
    const [a, b] = await Promise.all([run("slow", 1), run("slow", 2)]);
    assert.notEqual(a.thread, b.thread);
  });

  test("a thread closed in the middle of a call is terminated, not reused", async () => {
    await run("id", 0);
    const idle = pool.idleThreads;
    assert.ok(idle >= 1);
    const host = pool.host<Out>({ mode: "slow", n: 1 });
    await host.missing(); // opened
    const refused = assert.rejects(host.start(), /terminated/);
    await new Promise((r) => setImmediate(r)); // the start call is on its way to the thread
    await host.close();
    await refused;
    assert.equal(pool.idleThreads, idle - 1, "the interrupted thread did not come back");
  });

  test("a thread that died is not handed out again", async () => {
    await run("id", 0);
    const idle = pool.idleThreads;
    const dying = pool.host<Out>({ mode: "exit", n: 0 });
    await assert.rejects(dying.start(), /exited/);
    await dying.close();
    assert.equal(pool.idleThreads, idle - 1);
    assert.equal((await run("id", 5)).n, 5);
  });

  test("at most maxIdle threads are kept", async () => {
    await Promise.all([run("slow", 1), run("slow", 2), run("slow", 3)]);
    assert.equal(pool.idleThreads, 2);
  });
});
