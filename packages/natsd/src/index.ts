/**
 * @custody/natsd: local nats-server processes for development and tests.
 * @module
 */
export { findNatsServer, NatsServerNotFoundError } from "./binary.js";
export type { NatsClusterOptions } from "./cluster.js";
export { NatsCluster } from "./cluster.js";
export type { ConfValue } from "./conf.js";
export { toConf } from "./conf.js";
export type { CertPair, ClientTls, DevPki } from "./pki.js";
export { createDevPki, serverTlsConfig } from "./pki.js";
export type { NatsServerOptions } from "./server.js";
export { NatsServer, NatsServerStartError } from "./server.js";
