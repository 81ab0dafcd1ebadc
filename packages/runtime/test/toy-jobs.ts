/**
 * Jobs of `job-threads.test`: `square` answers with the thread that ran it, `fail` throws a
 * ProtocolError blaming its input, `exit` ends its thread without answering, `crashLater` answers
 * and then dies of an uncaught error.
 */
import { threadId } from "node:worker_threads";
import { type Job, ProtocolError } from "@custody/core";

/** `n²` and the thread that computed it. */
export const square: Job<bigint, { value: bigint; thread: number }> = {
  name: "toy/square",
  run: (n) => ({ value: n * n, thread: threadId }),
};

/** Always fails, blaming party `n`. */
export const fail: Job<number, never> = {
  name: "toy/fail",
  run: (n) => {
    throw new ProtocolError("bad-message", `input ${n} is bad`, [n]);
  },
};

/** Fails for odd inputs (blaming them), squares even ones. */
export const failOdd: Job<number, number> = {
  name: "toy/fail-odd",
  run: (n) => {
    if (n % 2 === 1) throw new ProtocolError("bad-message", `input ${n} is odd`, [n]);
    return n * n;
  },
};

/** Ends the thread it runs in (in a helper: without answering). */
export const exit: Job<number, number> = {
  name: "toy/exit",
  run: (n) => (threadId === 0 ? n : process.exit(5)),
};

/** Answers, then (in a helper) throws outside any job: an uncaught error that ends its thread. */
export const crashLater: Job<number, number> = {
  name: "toy/crash-later",
  run: (n) => {
    if (threadId !== 0)
      setTimeout(() => {
        throw new Error("helper crashed");
      }, 10);
    return n;
  },
};

/** All of them, for the helper script. */
export const TOY_JOBS = [square, fail, failOdd, exit, crashLater] as const;
