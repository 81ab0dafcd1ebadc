/**
 * A single nats-server in operator mode, for tests and tools: its own trust root (operator, system
 * and control accounts) plus one JetStream-enabled account per named tenant, all preloaded.
 * @module
 */
import { join } from "node:path";
import type { KeyPair } from "@nats-io/nkeys";
import type { ConfValue } from "./conf.js";
import { NatsServer } from "./server.js";
import {
  accountJwt,
  DEFAULT_QUOTA,
  loadOrCreateTrust,
  resolverConfig,
  serverTrustConfig,
  type TrustRoot,
  tenantAccountKey,
} from "./trust.js";

/** A started server with the keys of its accounts. */
export interface TrustedServer {
  readonly server: NatsServer;
  readonly root: TrustRoot;
  /** The account key of `control` or of a tenant named at start. */
  account(name: string): KeyPair;
}

/** Starts a server under `dir` trusting a fresh operator, with the control and tenant accounts. */
export async function startTrustedServer(o: {
  readonly dir: string;
  readonly tenants: readonly string[];
  readonly config?: Record<string, ConfValue | undefined>;
}): Promise<TrustedServer> {
  const root = loadOrCreateTrust(join(o.dir, "trust"));
  const accounts = new Map<string, KeyPair>([["control", root.control]]);
  const preload: Record<string, string> = {};
  for (const t of o.tenants) {
    const kp = tenantAccountKey(root, t);
    accounts.set(t, kp);
    preload[kp.getPublicKey()] = await accountJwt(root, `tenant-${t}`, kp, DEFAULT_QUOTA);
  }
  const trust = await serverTrustConfig(root, join(o.dir, "trust", "operator.jwt"), preload);
  const server = await NatsServer.start({
    dir: join(o.dir, "nats"),
    config: { ...trust, ...resolverConfig(join(o.dir, "nats", "jwt")), ...o.config },
  });
  return {
    server,
    root,
    account(name) {
      const kp = accounts.get(name);
      if (!kp) throw new Error(`no account ${name}`);
      return kp;
    },
  };
}
