/**
 * @custody/natsd: local nats-server processes for development and tests.
 * @module
 */
export { NatsServerNotFoundError, findNatsServer } from "./binary.js";
export { toConf } from "./conf.js";
export type { ConfValue } from "./conf.js";
export { NatsServer, NatsServerStartError } from "./server.js";
export type { NatsServerOptions } from "./server.js";
