/**
 * The broker's chain of trust in operator (JWT) mode. An operator key signs account JWTs: a system
 * account (server administration), one control account (tenant registry, heartbeats, audit trail,
 * request nonces) and one account per tenant that holds the tenant's whole data plane. Users are
 * NKeys bound to one account by a user JWT that the account key signs and that carries the user's
 * subject permissions. Account seeds stay with the operator tooling; a user JWT is not a secret
 * (connecting also needs the user's seed), so it can be handed out through the tenant registry.
 * The servers run the `full` resolver: a tenant account pushed at runtime (through the system
 * account) is stored by every node and needs no restart or reload.
 * @module
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";

/** Subject permissions carried by a user JWT (`resp.ttl` in nanoseconds). */
export interface UserPermissions {
  readonly pub: { readonly allow: string[] };
  readonly sub: { readonly allow: string[] };
  readonly resp?: { readonly max: number; readonly ttl: number };
}

/** Limits every account gets: no caps on connections or subscriptions beyond the server's own. */
const OPEN_LIMITS = { subs: -1, data: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const MiB = 1024 * 1024;

/** JetStream quota of an account (bytes); a zero quota means JetStream is off for it. */
export interface AccountQuota {
  readonly memoryBytes: number;
  readonly diskBytes: number;
  readonly streams: number;
  readonly consumers: number;
}

/**
 * Default quota of a tenant account: room for its request and result streams (1 GiB each), its
 * advisories and its buckets, three replicas of each (a replica counts against the quota), all
 * file-backed (memory storage is for ephemera only). The server reserves every account's quota
 * against its own JetStream limits (1 GiB of memory, 4 TiB of disk in `NatsServer`), which
 * therefore bound the tenants one server holds (about 250).
 */
export const DEFAULT_QUOTA: AccountQuota = {
  memoryBytes: 4 * MiB,
  diskBytes: 12 * 1024 * MiB,
  streams: 32,
  consumers: 256,
};

/**
 * Quota of the control account: the audit stream (15 GiB), the nonce (256 MiB) and tenant (64 MiB)
 * buckets, three replicas each.
 */
export const CONTROL_QUOTA: AccountQuota = {
  memoryBytes: 4 * MiB,
  diskBytes: 48 * 1024 * MiB,
  streams: 8,
  consumers: 64,
};

/** The operator's key material, kept under one directory (seeds mode 0600). */
export interface TrustRoot {
  readonly dir: string;
  readonly operator: KeyPair;
  readonly system: KeyPair;
  readonly control: KeyPair;
}

/** Name of the control account in JWTs. */
export const CONTROL_ACCOUNT_NAME = "CUSTODY_CONTROL";

const secret = (file: string, text: string) => {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
};

function loadOrCreate(file: string, make: () => KeyPair): KeyPair {
  if (existsSync(file)) return fromSeed(new TextEncoder().encode(readFileSync(file, "utf8").trim()));
  const kp = make();
  secret(file, new TextDecoder().decode(kp.getSeed()));
  return kp;
}

/** Loads the operator, system and control keys from `dir`, creating any that are missing. */
export function loadOrCreateTrust(dir: string): TrustRoot {
  mkdirSync(join(dir, "accounts"), { recursive: true, mode: 0o700 });
  return {
    dir,
    operator: loadOrCreate(join(dir, "operator.nk"), createOperator),
    system: loadOrCreate(join(dir, "system.nk"), createAccount),
    control: loadOrCreate(join(dir, "control.nk"), createAccount),
  };
}

/** A tenant's account key pair, created on first use. Tenant names are checked by the caller. */
export function tenantAccountKey(root: TrustRoot, tenant: string): KeyPair {
  return loadOrCreate(join(root.dir, "accounts", `${tenant}.nk`), createAccount);
}

/** The operator JWT (names the system account). */
function operatorJwt(root: TrustRoot): Promise<string> {
  return encodeOperator("custody", root.operator, { system_account: root.system.getPublicKey() });
}

/** A revocation time after any JWT's issue time: a revoked key is refused whenever its JWT was made. */
const REVOKED_FOREVER = 9_999_999_999;

const revocationsFile = (root: TrustRoot) => join(root.dir, "revoked.json");

/** Public keys of the users the operator revoked (in every account). */
export function revokedUsers(root: TrustRoot): string[] {
  const file = revocationsFile(root);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as string[]) : [];
}

/**
 * Revokes a user key in every account the operator signs from now on: any JWT naming it, issued
 * before or after, is refused once the account JWTs carrying the revocation reach the servers.
 */
export function revokeUser(root: TrustRoot, publicKey: string): void {
  if (!/^U[A-Z2-7]{55}$/.test(publicKey)) throw new Error("not a user public key");
  const keys = new Set(revokedUsers(root)).add(publicKey);
  writeFileSync(revocationsFile(root), `${JSON.stringify([...keys].sort(), null, 2)}\n`);
}

/** An account JWT signed by the operator, carrying every revocation; JetStream is on when `quota` is given. */
export function accountJwt(root: TrustRoot, name: string, account: KeyPair, quota?: AccountQuota) {
  const jetstream = quota
    ? {
        mem_storage: quota.memoryBytes,
        disk_storage: quota.diskBytes,
        streams: quota.streams,
        consumer: quota.consumers,
        max_ack_pending: -1,
        mem_max_stream_bytes: -1,
        disk_max_stream_bytes: -1,
        max_bytes_required: false,
      }
    : {};
  return encodeAccount(
    name,
    account,
    {
      limits: { ...OPEN_LIMITS, payload: 2 * MiB, ...jetstream },
      revocations: Object.fromEntries(revokedUsers(root).map((k) => [k, REVOKED_FOREVER])),
    },
    { signer: root.operator },
  );
}

/** The JWTs of the system and control accounts (preloaded into every server). */
async function baseAccountJwts(root: TrustRoot): Promise<Record<string, string>> {
  return {
    [root.system.getPublicKey()]: await accountJwt(root, "SYS", root.system),
    [root.control.getPublicKey()]: await accountJwt(root, CONTROL_ACCOUNT_NAME, root.control, CONTROL_QUOTA),
  };
}

/** A user JWT: binds `userPublicKey` to `account` with `permissions` (none: full rights in it). */
export function userJwt(
  account: KeyPair,
  name: string,
  userPublicKey: string,
  permissions?: UserPermissions,
): Promise<string> {
  return encodeUser(name, fromPublicUser(userPublicKey), account, permissions ?? {});
}

/** A key pair that carries only a public key (encodeUser needs no user secret). */
function fromPublicUser(publicKey: string): KeyPair {
  if (!/^U[A-Z2-7]{55}$/.test(publicKey)) throw new Error("not a user public key");
  return {
    getPublicKey: () => publicKey,
    getPrivateKey: () => {
      throw new Error("public key only");
    },
    getSeed: () => {
      throw new Error("public key only");
    },
    sign: () => {
      throw new Error("public key only");
    },
    verify: () => false,
    clear: () => {},
  } as unknown as KeyPair;
}

/** A fresh user of `account`: its JWT and seed (what a connection needs). */
export async function newUser(
  account: KeyPair,
  name: string,
  permissions?: UserPermissions,
): Promise<{ jwt: string; seed: Uint8Array; publicKey: string }> {
  const user = createUser();
  const jwt = await userJwt(account, name, user.getPublicKey(), permissions);
  return { jwt, seed: user.getSeed(), publicKey: user.getPublicKey() };
}

/** Writes a NATS credentials file (user JWT + seed) for a new user of `account`; returns its path. */
export async function writeUserCreds(
  file: string,
  account: KeyPair,
  name: string,
  permissions?: UserPermissions,
): Promise<string> {
  const user = createUser();
  const jwt = await userJwt(account, name, user.getPublicKey(), permissions);
  secret(file, new TextDecoder().decode(fmtCreds(jwt, user)));
  return file;
}

/**
 * The server configuration of operator mode: the operator JWT (written to `operatorFile`), the
 * system account and the account JWTs to preload (the system and control accounts and `preload`).
 */
export async function serverTrustConfig(
  root: TrustRoot,
  operatorFile: string,
  preload: Record<string, string>,
): Promise<Record<string, string | Record<string, string>>> {
  writeFileSync(operatorFile, await operatorJwt(root));
  return {
    operator: operatorFile,
    system_account: root.system.getPublicKey(),
    resolver_preload: { ...(await baseAccountJwts(root)), ...preload },
  };
}

/** The `full` resolver of one server, storing account JWTs (pushed at runtime too) under `dir`. */
export function resolverConfig(dir: string): { resolver: Record<string, string | boolean> } {
  return { resolver: { type: "full", dir, allow_delete: false, interval: "2m" } };
}
