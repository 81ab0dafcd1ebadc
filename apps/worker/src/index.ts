/**
 * @custody/worker: the party worker process.
 * @module
 */
export { classify, runJob } from "./jobs.js";
export type { JobEnv } from "./jobs.js";
export { SCHEMES } from "./schemes.js";
export { startWorker } from "./worker.js";
export type { RunningWorker, WorkerConfig } from "./worker.js";
