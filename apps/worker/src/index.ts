/**
 * @custody/worker: the party worker process.
 * @module
 */

export type { JobEnv } from "./jobs.js";
export { classify, runJob } from "./jobs.js";
export { SCHEMES } from "./schemes.js";
export type { RunningWorker, WorkerConfig } from "./worker.js";
export { startWorker } from "./worker.js";
