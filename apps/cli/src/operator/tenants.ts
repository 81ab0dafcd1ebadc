/**
 * Operator tooling for tenants: creates a tenant's NATS account, pushes it to the servers (no
 * restart), provisions its data plane and publishes its registry entry with a user JWT for every
 * service identity, each carrying that identity's least-privilege permissions. Idempotent: running
 * it again re-issues the service JWTs (e.g. for a newly added worker), keeps the tenant's admin
 * user and leaves stored data alone.
 * @module
 */
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  accountJwt,
  DEFAULT_QUOTA,
  revokedUsers,
  type TrustRoot,
  tenantAccountKey,
  userJwt,
  writeUserCreds,
} from "@custody/natsd";
import {
  apiPermissions,
  type ConnectOptions,
  connectNats,
  type ProvisionOptions,
  provisionTenant,
  readCreds,
  TENANT_NAME,
  type TenantEntry,
  TenantRegistry,
  workerPermissions,
} from "@custody/runtime";
import type { NatsConnection } from "@nats-io/transport-node";

/** A process identity that serves every tenant. */
export type ServiceIdentity =
  | { readonly role: "api"; readonly name: string; readonly publicKey: string }
  | { readonly role: "worker"; readonly name: string; readonly publicKey: string; readonly party: number };

/** What enrolling a tenant needs. */
export interface EnrolTenantOptions {
  readonly root: TrustRoot;
  readonly tenant: string;
  /** How to reach the servers (credentials and name are filled in per connection). */
  readonly connect: Omit<ConnectOptions, "credentials" | "name">;
  /** Credentials file of a system-account user (pushes account JWTs). */
  readonly systemCreds: string;
  /** Credentials file of the control account's admin user (writes the registry). */
  readonly controlCreds: string;
  /** Where to write the tenant admin's credentials file (full rights in the tenant account). */
  readonly tenantAdminCreds: string;
  readonly identities: readonly ServiceIdentity[];
  readonly provision: ProvisionOptions;
}

/** Raised when the servers refuse an account JWT. */
export class AccountPushError extends Error {
  override readonly name = "AccountPushError";
}

/** Pushes an account JWT to the servers through a system-account connection. */
export async function pushAccount(system: NatsConnection, jwt: string): Promise<void> {
  const reply = await system.request("$SYS.REQ.CLAIMS.UPDATE", new TextEncoder().encode(jwt), {
    timeout: 5000,
  });
  const body = JSON.parse(reply.string()) as { data?: { code?: number } };
  if (body.data?.code !== 200) throw new AccountPushError(`account update refused: ${reply.string()}`);
}

async function withConnection<T>(
  o: Omit<ConnectOptions, "credentials">,
  credsFile: string,
  use: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connectNats({ ...o, credentials: readCreds(credsFile) });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

/** Creates (or updates) a tenant end to end; returns its registry entry. */
export async function enrolTenant(o: EnrolTenantOptions): Promise<TenantEntry> {
  if (!TENANT_NAME.test(o.tenant)) throw new RangeError("tenant names use letters, digits, - and _ (1-64)");
  const account = tenantAccountKey(o.root, o.tenant);
  const jwt = await accountJwt(o.root, `tenant-${o.tenant}`, account, DEFAULT_QUOTA);
  await withConnection({ ...o.connect, name: "operator-system" }, o.systemCreds, (nc) =>
    pushAccount(nc, jwt),
  );
  // One admin user per tenant, kept across enrolments (its key is revocable like any other).
  if (!existsSync(o.tenantAdminCreds)) await writeUserCreds(o.tenantAdminCreds, account, `${o.tenant}-admin`);
  // Every node stores the pushed account; retry briefly in case the one we reach has not yet.
  for (let attempt = 0; ; attempt++) {
    try {
      await withConnection({ ...o.connect, name: `${o.tenant}-admin` }, o.tenantAdminCreds, (nc) =>
        provisionTenant(nc, o.provision),
      );
      break;
    } catch (e) {
      if (attempt >= 20) throw e;
      await sleep(250);
    }
  }
  const users: Record<string, string> = {};
  const revoked = new Set(revokedUsers(o.root));
  for (const id of o.identities) {
    if (revoked.has(id.publicKey)) continue;
    const permissions = id.role === "api" ? apiPermissions() : workerPermissions(id.party);
    users[id.publicKey] = await userJwt(account, id.name, id.publicKey, permissions);
  }
  const entry: TenantEntry = { tenant: o.tenant, account: account.getPublicKey(), users };
  await withConnection({ ...o.connect, name: "operator-control" }, o.controlCreds, async (nc) =>
    (await TenantRegistry.open(nc)).put(entry),
  );
  return entry;
}
