/**
 * The dev stack's credential authority and client credentials. In production the authority seed
 * lives offline, it issues each tenant's first admin credential, and admins issue the rest with
 * `custody credentials issue` (delegated, signed with their own key); `custody dev` keeps
 * one under `.custody/dev/secrets/` and writes an admin credential for the default tenant.
 * @module
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createAuthority,
  createClientKey,
  issueCredential,
  publicKeyOfSeed,
  type Role,
} from "@custody/credentials";

/** Files of a client identity. */
export interface ClientFiles {
  readonly seedFile: string;
  readonly credentialFile: string;
}

/** A client identity loaded from its files. */
export interface LoadedClient {
  readonly seed: string;
  readonly credential: string;
}

/** Writes a secret file readable by its owner only (0600). */
export function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Path of the authority's public key file (what the API and the parties trust). */
export const authorityPublicPath = (dir: string) => join(dir, "authority.pub");
/** Path of the authority's seed (secret). */
export const authoritySeedPath = (dir: string) => join(dir, "secrets", "authority.seed");

/** Creates the dev authority once; returns its public key. */
export function ensureAuthority(dir: string): string {
  const seedFile = authoritySeedPath(dir);
  if (!existsSync(seedFile)) writeSecret(seedFile, createAuthority().seed);
  const publicKey = publicKeyOfSeed(readFileSync(seedFile, "utf8"));
  writeFileSync(authorityPublicPath(dir), `${publicKey}\n`);
  return publicKey;
}

/** Issues a credential signed by the authority in `dir` for a new client key; writes both files. */
export function issueClient(
  dir: string,
  out: ClientFiles,
  claims: { name: string; role: Role; tenant: string; keys?: string[]; days?: number },
): LoadedClient {
  const key = createClientKey();
  const iat = Math.floor(Date.now() / 1000);
  const credential = issueCredential(readFileSync(authoritySeedPath(dir), "utf8"), {
    sub: key.publicKey,
    name: claims.name,
    role: claims.role,
    tenant: claims.tenant,
    keys: claims.keys ?? (claims.role === "signer" ? [] : ["*"]),
    iat,
    exp: iat + (claims.days ?? 365) * 86_400,
  });
  writeSecret(out.seedFile, key.seed);
  writeFileSync(out.credentialFile, `${credential}\n`);
  return { seed: key.seed, credential };
}

/** Reads a client identity. */
export function loadClient(files: ClientFiles): LoadedClient {
  return {
    seed: readFileSync(files.seedFile, "utf8").trim(),
    credential: readFileSync(files.credentialFile, "utf8").trim(),
  };
}

/** Reads an authority public key file (one key per line). */
export function readAuthorities(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
