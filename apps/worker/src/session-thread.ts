/**
 * Worker-thread entry point: builds the session described in `workerData` and serves it to the
 * main thread (see @custody/runtime's thread host). When the worker gives its sessions job
 * threads, the thread starts them on first use and keeps them for the sessions it serves next.
 * @module
 */
import { inline, type ParallelMap } from "@custody/core";
import { JobThreads, serveSessionThread } from "@custody/runtime";
import { SCHEMES } from "./schemes.js";
import { beginSession, type SessionSpec } from "./session-spec.js";

let jobs: JobThreads | undefined;

/** Where a session's jobs run: `size` helper threads, or inline when 0. */
function parallelOf(size: number): ParallelMap {
  if (size < 1) return inline;
  if (jobs?.size !== size) {
    void jobs?.close();
    jobs = new JobThreads(new URL("./job-thread.js", import.meta.url), size);
  }
  return jobs;
}

serveSessionThread((init) => {
  const { spec, sessionId, jobThreads } = init as {
    spec: SessionSpec;
    sessionId: Uint8Array;
    jobThreads?: number;
  };
  return {
    self: spec.self,
    begin: () => beginSession(SCHEMES, spec, sessionId, parallelOf(jobThreads ?? 0)),
    maxRounds: 16,
  };
});
