/**
 * Opens NATS connections the way every Custody process needs them: NKey authentication (no
 * passwords, nothing anonymous), a private inbox prefix, and reconnects that never give up.
 * @module
 */
import { connect, type NatsConnection, nkeyAuthenticator } from "@nats-io/transport-node";
import { readSeed } from "./identity.js";

/** Where and as whom to connect. */
export interface ConnectOptions {
  /** Server URLs (`nats://127.0.0.1:4222`, ...). */
  readonly servers: readonly string[];
  /** NKey seed file of this process's identity. */
  readonly seedFile: string;
  /** Connection name shown in server monitoring. */
  readonly name: string;
  /** Inbox prefix; subject permissions restrict each identity to its own. */
  readonly inboxPrefix?: string;
  /** TLS client certificate and CA (mTLS), when the server requires it. */
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** How long the first connection attempt may take. Default 20 s. */
  readonly timeoutMs?: number;
}

/** Connects with the identity's NKey. */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const seed = readSeed(options.seedFile);
  return connect({
    servers: [...options.servers],
    authenticator: nkeyAuthenticator(seed),
    name: options.name,
    inboxPrefix: options.inboxPrefix,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    timeout: options.timeoutMs ?? 20_000,
    ...(options.tls ? { tls: { ...options.tls } } : {}),
  });
}
