/**
 * The session thread pool: a thread that finished its session serves the next one (warm), two
 * sessions at once get two threads, a closed session's calls never reach the thread again, a
 * thread closed in the middle of a call or one that died (in a session or while idle) is never
 * handed out again, at most `maxIdle` are kept, and an idle one ends after the idle time.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ProtocolError } from "@custody/core";
import { SessionThreadPool } from "../src/thread-host.js";

const SCRIPT = new URL("./toy-session-thread.js", import.meta.url);
const pool = new SessionThreadPool(SCRIPT, 2);
after(() => pool.close());

type Out = { thread: number; n: number };

async function run(mode: "id" | "slow" | "exit-later", n: number, from = pool): Promise<Out> {
  const host = from.host<Out>({ mode, n });
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

  test("settling a session runs its round's deferred checks in the thread", async () => {
    const host = pool.host<Out>({ mode: "settle", n: 1 });
    await host.start();
    await assert.rejects(host.settle(), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.kind, "bad-message");
      assert.deepEqual([...e.culprits], [2]);
      assert.equal(e.message, "deferred check failed (culprit: 2)");
      return true;
    });
    await host.close();
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

  test("at most maxIdle threads are kept, however many sessions close at once", async () => {
    const hosts = [1, 2, 3, 4].map((n) => pool.host<Out>({ mode: "id", n }));
    for (const h of hosts) {
      await h.start();
      assert.ok(await h.result());
    }
    await Promise.all(hosts.map((h) => h.close()));
    assert.equal(pool.idleThreads, 2);
  });

  test("a thread that dies while idle leaves the pool", async () => {
    const own = new SessionThreadPool(SCRIPT, 2);
    try {
      await run("exit-later", 1, own);
      assert.equal(own.idleThreads, 1);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(own.idleThreads, 0, "the dead thread is not kept");
      assert.equal((await run("id", 2, own)).n, 2);
    } finally {
      await own.close();
    }
  });

  test("an idle thread is ended after the idle time", async () => {
    const own = new SessionThreadPool(SCRIPT, 2, 200);
    try {
      await run("id", 1, own);
      assert.equal(own.idleThreads, 1);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(own.idleThreads, 0);
    } finally {
      await own.close();
    }
  });
});
