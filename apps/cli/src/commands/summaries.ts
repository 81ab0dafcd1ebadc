/**
 * The one-line help of every top-level command, in one place: `custody --help` lists them without
 * loading any command's module, and each module describes its commands with the same lines.
 * @module
 */

/** Help line by top-level command name, in the order `--help` lists them. */
export const SUMMARY = {
  dev: "run Custody locally: nats-server with JetStream, the API and every party's workers",
  api: "run the HTTP API process",
  worker: "run one worker of one party",
  init: "create a deployment: the operator's offline material and one bundle directory per host",
  "nats-config": "print or write a NATS node's nats-server config from its bundle",
  provision: "provision the control account and the tenants on a deployment's cluster",
  keys: "create, list, show and refresh threshold keys",
  sign: "sign a message with a key",
  operations: "list operations, look one up again, or wait for it",
  events: "follow the tenant's operation events (created, progress, succeeded, failed) as they happen",
  webhooks: "webhook subscriptions: add a URL, list them with their delivery state, remove one",
  credentials: "client credentials of the API",
  audit: "the hash-chained audit trail",
  tenants: "tenants (isolated sets of keys and clients)",
  identities: "service identities (API, workers) at the broker",
  kek: "a party's key-encryption key in its PKCS#11 token",
  backup: "back up one party's sealed records, or the API's records and the audit trail",
  restore: "restore backups into a fresh broker (create-only; refuses retired backups)",
  "request-headers": "print signed headers for one API request (for curl or the /docs page)",
} as const;

/** A top-level command name. */
export type CommandName = keyof typeof SUMMARY;
