/**
 * `custody identities revoke NAME`: revokes a service identity of the dev stack (e.g. `party3-w1`)
 * at the broker in every account, removes it from every tenant's registry entry and retires its
 * seed, so the next `custody dev` start gives that process a fresh key.
 * @module
 */
import { existsSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { loadOrCreateTrust } from "@custody/natsd";
import type { Command } from "commander";
import { revokeIdentity } from "../operator/identities.js";
import { readProfile } from "../operator/profile.js";
import { knownTenants } from "../stack.js";
import { DEFAULT_PROFILE } from "./client.js";
import { SUMMARY } from "./summaries.js";

/** Adds `identities revoke` to `program`. */
export function registerIdentityCommands(program: Command): void {
  const identities = program.command("identities").description(SUMMARY.identities);
  identities
    .command("revoke")
    .description("revoke a service identity in every NATS account (its connections are closed)")
    .argument("<name>", "identity name, e.g. party3-w1 or api")
    .option("--profile <file>", "dev profile", DEFAULT_PROFILE)
    .action(async (name: string, o: { profile: string }) => {
      const file = resolve(o.profile);
      const profile = readProfile(file);
      const id = profile.identities.find((i) => i.name === name);
      if (!id)
        throw new Error(`no identity ${name} (known: ${profile.identities.map((i) => i.name).join(", ")})`);
      const root = loadOrCreateTrust(profile.operator.trustDir);
      await revokeIdentity({
        root,
        publicKey: id.publicKey,
        tenants: knownTenants(root),
        connect: { servers: profile.natsUrls, tls: profile.adminTls },
        systemCreds: profile.operator.systemCreds,
        controlCreds: profile.operator.controlCreds,
      });
      const creds = join(dirname(file), "creds");
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      for (const ext of [".nk", ".creds"]) {
        const f = join(creds, `${name}${ext}`);
        if (existsSync(f)) renameSync(f, `${f}.revoked-${stamp}`);
      }
      console.log(`revoked ${name} (${id.publicKey}); the next \`custody dev\` start gives it a new key`);
    });
}
