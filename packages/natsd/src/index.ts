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
export { createDevPki, routeTlsConfig, serverTlsConfig } from "./pki.js";
export type { NatsServerOptions } from "./server.js";
export { NatsServer, NatsServerStartError } from "./server.js";
export type { AccountQuota, TrustRoot, UserPermissions } from "./trust.js";
export {
  accountJwt,
  CONTROL_ACCOUNT_NAME,
  CONTROL_QUOTA,
  DEFAULT_QUOTA,
  loadOrCreateTrust,
  newUser,
  resolverConfig,
  revokedUsers,
  revokeUser,
  serverTrustConfig,
  tenantAccountKey,
  userJwt,
  writeUserCreds,
} from "./trust.js";
export type { TrustedServer } from "./trusted-server.js";
export { startTrustedServer } from "./trusted-server.js";
