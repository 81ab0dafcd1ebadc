/**
 * Thread script of `session-thread-pool.test`: a one-step session whose result names the thread
 * that ran it; `slow` spins before answering, `exit` ends the thread, `exit-later` ends it once the
 * session is over, `settle` waits for party 2 with a deferred check that blames it.
 */
import { threadId } from "node:worker_threads";
import { done, next, ProtocolError } from "@custody/core";
import { serveSessionThread } from "../src/thread-host.js";

serveSessionThread((init) => {
  const { mode, n } = init as { mode: "id" | "slow" | "exit" | "exit-later" | "settle"; n: number };
  return {
    self: 1,
    maxRounds: 1,
    begin: () => {
      // A round waiting for party 2 whose deferred check blames it.
      if (mode === "settle")
        return next(
          {
            number: 1,
            expects: { from: [2], broadcast: true, p2p: false },
            receive: () => {},
            finalize: () => done({ thread: threadId, n }),
            settle: () => {
              throw new ProtocolError("bad-message", "deferred check failed", [2]);
            },
          },
          [],
        );
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
