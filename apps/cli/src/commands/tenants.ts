/**
 * `custody tenants create NAME`: issues an admin credential for a new tenant with the dev authority.
 * A tenant's keys and operations are visible only to its own credentials (API and parties check).
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { authoritySeedPath, issueClient } from "../dev-authority.js";
import { DEFAULT_PROFILE } from "./client.js";

/** Adds `tenants create` to `program`. */
export function registerTenantCommands(program: Command): void {
  const tenants = program.command("tenants").description("tenants (isolated sets of keys and clients)");
  tenants
    .command("create")
    .description("create a tenant: issue its first admin credential with the dev authority")
    .argument("<name>", "tenant name: letters, digits, - and _")
    .option("--profile <file>", "dev profile (its directory holds the authority)", DEFAULT_PROFILE)
    .option("--days <n>", "credential lifetime in days", "365")
    .option("--json", "print one JSON object")
    .action((name: string, o: { profile: string; days: string; json?: boolean }) => {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
        throw new Error("tenant names use letters, digits, - and _ (1-64)");
      const dir = dirname(resolve(o.profile));
      if (!existsSync(authoritySeedPath(dir)))
        throw new Error(`no dev authority under ${dir}: start \`custody dev\` first`);
      const out = join(dir, "tenants", name);
      mkdirSync(out, { recursive: true, mode: 0o700 });
      const files = { seedFile: join(out, "admin.nk"), credentialFile: join(out, "admin.cred") };
      if (existsSync(files.credentialFile)) throw new Error(`tenant ${name} exists (${out})`);
      issueClient(dir, files, { name: `${name}-admin`, role: "admin", tenant: name, days: Number(o.days) });
      const publicKey = JSON.parse(
        Buffer.from(readFileSync(files.credentialFile, "utf8").split(".")[0]!, "base64url").toString(),
      ).sub;
      if (o.json) return console.log(JSON.stringify({ tenant: name, ...files, publicKey }));
      console.log(`tenant ${name}: admin credential ${files.credentialFile}, key ${files.seedFile}`);
      console.log(
        `use it with: custody keys list --seed ${files.seedFile} --credential ${files.credentialFile}`,
      );
    });
}
