/**
 * The API's view of every tenant's revocation list and credential registry: for each tenant the
 * tenant registry lists with a JWT for the API identity, a connection into the tenant's account, its
 * {@link RevocationList} and its {@link CredentialRegistry}. Lookups are never cached, so a
 * revocation takes effect with the next request (for a delegated credential, a revocation of its
 * issuer's credential too).
 * @module
 */
import {
  API_INBOX,
  connectNats,
  publicKeyOfCredentials,
  RevocationList,
  type TenantRegistry,
  TenantServices,
  type UserCredentials,
} from "@custody/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { CredentialRegistry, type TenantCredentials } from "../domain/credential-registry.js";
import { Problem } from "../problems.js";
import type { Revocations } from "./plugins/auth.js";

/** What the lists need to open tenant connections. */
export interface RevocationListsOptions {
  readonly servers: readonly string[];
  /** The API identity's control-account credentials; its seed also opens tenant accounts. */
  readonly credentials: UserCredentials;
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  readonly log: Logger;
}

interface TenantList {
  readonly nc: NatsConnection;
  readonly list: RevocationList;
  readonly registry: CredentialRegistry;
  stop(): Promise<void>;
}

/** Every tenant's revocation list, as the API reads and writes them. */
export class RevocationLists implements Revocations, TenantCredentials {
  private readonly lists: TenantServices<TenantList>;

  constructor(private readonly o: RevocationListsOptions) {
    this.lists = new TenantServices(
      publicKeyOfCredentials(o.credentials),
      (tenant, jwt) => this.open(tenant, jwt),
      (tenant, err) => o.log.error({ tenant, err: String(err) }, "revocation list unavailable; retrying"),
    );
  }

  /** Opens every current tenant's list (resolves once they are open) and watches for more. */
  start(registry: TenantRegistry): Promise<void> {
    return this.lists.start(registry);
  }

  private async open(tenant: string, jwt: () => string): Promise<TenantList> {
    const nc = await connectNats({
      servers: this.o.servers,
      credentials: { jwt, seed: this.o.credentials.seed },
      name: `api-revocations@${tenant}`,
      inboxPrefix: API_INBOX,
      tls: this.o.tls,
    });
    try {
      const [list, registry] = await Promise.all([RevocationList.open(nc), CredentialRegistry.open(nc)]);
      return { nc, list, registry, stop: () => nc.drain().catch(() => nc.close()) };
    } catch (e) {
      await nc.close();
      throw e;
    }
  }

  private tenant(tenant: string): TenantList {
    const l = this.lists.get(tenant);
    if (l) return l;
    if (this.lists.opening(tenant))
      throw new Problem("unavailable", `tenant ${tenant} is being attached; retry shortly`, {}, 1);
    throw new Problem("unknown-tenant", `tenant ${tenant} is not served by this API`);
  }

  async isRevoked(tenant: string, credential: string): Promise<boolean> {
    return this.tenant(tenant).list.isRevoked(credential);
  }

  async revoke(tenant: string, id: string, reason: string) {
    return this.tenant(tenant).list.revoke(id, reason);
  }

  async revocationOf(tenant: string, credential: string) {
    return this.tenant(tenant).list.revocationOf(credential);
  }

  async register(tenant: string, id: string, credential: string) {
    return this.tenant(tenant).registry.register(id, credential);
  }

  async registered(tenant: string) {
    return this.tenant(tenant).registry.list();
  }

  /** True when every tenant connection is up. */
  connected(): boolean {
    return this.lists.entries().every(([, l]) => !l.nc.isClosed());
  }

  /** Closes every tenant's connection. */
  stop(): Promise<void> {
    return this.lists.stop();
  }
}
