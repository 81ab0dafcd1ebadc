/**
 * @custody/api: the HTTP API process.
 * @module
 */
export { buildApp } from "./http/app.js";
export type { ProblemCode } from "./problems.js";
export { Problem, problemType } from "./problems.js";
export type { ApiConfig, RunningApi } from "./start.js";
export { startApi } from "./start.js";
export type { TlsFiles } from "./tls.js";
