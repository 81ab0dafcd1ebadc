/**
 * Opens NATS connections the way every Custody process needs them: a user JWT proven with the
 * identity's NKey seed (no passwords, nothing anonymous), a private inbox prefix, and reconnects
 * that never give up.
 * @module
 */
import { readFileSync } from "node:fs";
import { fromSeed } from "@nats-io/nkeys";
import { connect, jwtAuthenticator, type NatsConnection } from "@nats-io/transport-node";

/** A user JWT (or a getter of the newest one, read at every connection) and the seed of the NKey it names. */
export interface UserCredentials {
  readonly jwt: string | (() => string);
  readonly seed: Uint8Array;
}

/** The public key (`U...`) of the NKey behind some credentials. */
export function publicKeyOfCredentials(c: UserCredentials): string {
  return fromSeed(c.seed).getPublicKey();
}

/** Where and as whom to connect. */
export interface ConnectOptions {
  /** Server URLs (`nats://127.0.0.1:4222`, ...). */
  readonly servers: readonly string[];
  /** The user's JWT and seed (see {@link readCreds}). */
  readonly credentials: UserCredentials;
  /** Connection name shown in server monitoring. */
  readonly name: string;
  /** Inbox prefix; subject permissions restrict each identity to its own. */
  readonly inboxPrefix?: string;
  /** TLS client certificate and CA (mTLS), when the server requires it. */
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** How long the first connection attempt may take. Default 20 s. */
  readonly timeoutMs?: number;
}

const CREDS =
  /-----BEGIN NATS USER JWT-----\s*(\S+?)\s*------END NATS USER JWT------[\s\S]*?-----BEGIN USER NKEY SEED-----\s*(SU[A-Z2-7]+)\s*------END USER NKEY SEED------/;

/** Reads a NATS credentials file (user JWT and NKey seed). */
export function readCreds(file: string): UserCredentials {
  const m = CREDS.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`${file} is not a NATS credentials file`);
  return { jwt: m[1]!, seed: new TextEncoder().encode(m[2]!) };
}

/** Connects as the user the credentials name. */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: [...options.servers],
    authenticator: jwtAuthenticator(options.credentials.jwt, options.credentials.seed),
    name: options.name,
    inboxPrefix: options.inboxPrefix,
    maxReconnectAttempts: -1,
    // Keep trying through authorization errors too (e.g. a node that has not yet learnt a new
    // account): a Custody process never gives its broker connection up on its own.
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: 500,
    // No stack trace captured per request (a measurable share of the API's CPU per signature).
    noAsyncTraces: true,
    pingInterval: 10_000,
    maxPingOut: 3,
    timeout: options.timeoutMs ?? 20_000,
    ...(options.tls ? { tls: { ...options.tls } } : {}),
  });
}
