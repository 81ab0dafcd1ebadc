/**
 * Revoking a service identity (a compromised worker or API key): the operator adds its key to the
 * revocations of every account, pushes the new account JWTs (the servers close its connections and
 * refuse it from then on, whatever JWT it shows), and drops it from every tenant's registry entry.
 * @module
 */
import {
  accountJwt,
  CONTROL_ACCOUNT_NAME,
  CONTROL_QUOTA,
  DEFAULT_QUOTA,
  revokeUser,
  type TrustRoot,
  tenantAccountKey,
} from "@custody/natsd";
import { type ConnectOptions, connectNats, readCreds, TenantRegistry } from "@custody/runtime";
import { pushAccount } from "./tenants.js";

/** What revoking needs. */
export interface RevokeOptions {
  readonly root: TrustRoot;
  /** Public key (`U...`) of the identity to revoke. */
  readonly publicKey: string;
  /** Every tenant the operator has an account for. */
  readonly tenants: readonly string[];
  readonly connect: Omit<ConnectOptions, "credentials" | "name">;
  readonly systemCreds: string;
  readonly controlCreds: string;
}

/** Revokes the identity everywhere; resolves once the servers and the registry reflect it. */
export async function revokeIdentity(o: RevokeOptions): Promise<void> {
  revokeUser(o.root, o.publicKey);
  const jwts = [await accountJwt(o.root, CONTROL_ACCOUNT_NAME, o.root.control, CONTROL_QUOTA)];
  for (const t of o.tenants)
    jwts.push(await accountJwt(o.root, `tenant-${t}`, tenantAccountKey(o.root, t), DEFAULT_QUOTA));
  const system = await connectNats({
    ...o.connect,
    credentials: readCreds(o.systemCreds),
    name: "operator-system",
  });
  try {
    for (const jwt of jwts) await pushAccount(system, jwt);
  } finally {
    await system.close();
  }
  const control = await connectNats({
    ...o.connect,
    credentials: readCreds(o.controlCreds),
    name: "operator-control",
  });
  try {
    const registry = await TenantRegistry.open(control);
    for (const entry of await registry.list()) {
      if (!(o.publicKey in entry.users)) continue;
      const users = { ...entry.users };
      delete users[o.publicKey];
      await registry.put({ ...entry, users });
    }
  } finally {
    await control.close();
  }
}
