/**
 * Jobs of `job-threads.test`: `square` answers with the thread that ran it, `fail` throws a
 * ProtocolError blaming its input, `exit` ends its thread without answering, `slow` spins first.
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

/** All of them, for the helper script. */
export const TOY_JOBS = [square, fail, failOdd, exit] as const;
