/**
 * Thread script of `session-thread-pool.test`: a one-step session whose result names the thread
 * that ran it; `slow` spins before answering, `exit` ends the thread, `exit-later` ends it once the
 * session is over.
 */
import { threadId } from "node:worker_threads";
import { done } from "@custody/core";
import { serveSessionThread } from "../src/thread-host.js";

serveSessionThread((init) => {
  const { mode, n } = init as { mode: "id" | "slow" | "exit" | "exit-later"; n: number };
  return {
    self: 1,
    maxRounds: 1,
    begin: () => {
      if (mode === "exit") process.exit(3);
      // Ends the session cleanly, then the thread dies while idle.
      if (mode === "exit-later") setTimeout(() => process.exit(4), 200);
      if (mode === "slow") {
        const until = Date.now() + 400;
        while (Date.now() < until);
      }
      return done({ thread: threadId, n });
    },
  };
});
