/**
 * `custody tenants create NAME`: enrols a tenant. The operator creates the tenant's NATS account
 * (pushed to the running servers, no restart), provisions its data plane there, publishes a user
 * JWT for the API and every worker in the tenant registry (they attach on their own), issues the
 * tenant's first admin API credential with the dev authority, and returns once every party has a
 * worker serving the tenant and the API serves it. `custody tenants list` shows the registry.
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { loadOrCreateTrust } from "@custody/natsd";
import { LivenessTracker, TENANT_NAME, TenantRegistry } from "@custody/runtime";
import { ApiProblem, CustodyClient } from "@custody/sdk";
import type { Command } from "commander";
import { authoritySeedPath, issueClient } from "../dev-authority.js";
import { controlConnection, readProfile } from "../operator/profile.js";
import { enrolTenant } from "../operator/tenants.js";
import { type Profile, tenantAdminCredsPath } from "../stack.js";
import { DEFAULT_PROFILE } from "./client.js";
import { SUMMARY } from "./summaries.js";

/** Waits until every party has a live worker that serves the tenant (their heartbeats say so). */
async function untilPartiesServe(profile: Profile, tenant: string, timeoutMs = 15_000): Promise<void> {
  const nc = await controlConnection(profile, "tenants-create-wait");
  const liveness = new LivenessTracker(nc);
  liveness.start();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = liveness.liveParties(tenant);
      const missing = profile.provision.parties.filter((p) => !live.includes(p));
      if (missing.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(`parties ${missing.join(", ")} do not serve tenant ${tenant} yet`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    liveness.stop();
    await nc.close();
  }
}

/** Waits until the API serves the new tenant (it attaches on its own from the registry). */
async function untilServed(client: CustodyClient, tenant: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.listKeys();
      return;
    } catch (e) {
      const served = !(e instanceof ApiProblem && e.type.endsWith(":unknown-tenant"));
      if (served && !(e instanceof TypeError)) throw e;
      if (Date.now() > deadline) throw new Error(`the API does not serve tenant ${tenant} yet`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Adds `tenants create` and `tenants list` to `program`. */
export function registerTenantCommands(program: Command): void {
  const tenants = program.command("tenants").description(SUMMARY.tenants);
  tenants
    .command("create")
    .description("create a tenant: its own NATS account and data plane, and its first admin credential")
    .argument("<name>", "tenant name: letters, digits, - and _")
    .option(
      "--profile <file>",
      "dev profile (its directory holds the operator and the authority)",
      DEFAULT_PROFILE,
    )
    .option("--days <n>", "credential lifetime in days", "365")
    .option("--json", "print one JSON object")
    .action(async (name: string, o: { profile: string; days: string; json?: boolean }) => {
      if (!TENANT_NAME.test(name)) throw new Error("tenant names use letters, digits, - and _ (1-64)");
      const file = resolve(o.profile);
      const dir = dirname(file);
      const profile = readProfile(file);
      if (!existsSync(authoritySeedPath(dir))) throw new Error(`no dev authority under ${dir}`);
      const root = loadOrCreateTrust(profile.operator.trustDir);
      const out = join(dir, "tenants", name);
      const files = { seedFile: join(out, "admin.nk"), credentialFile: join(out, "admin.cred") };
      // A tenant exists once its first admin credential is issued; an enrolment cut short before
      // that is simply resumed (enrolment is idempotent).
      if (existsSync(files.credentialFile)) throw new Error(`tenant ${name} exists (${out})`);
      const entry = await enrolTenant({
        root,
        tenant: name,
        connect: { servers: profile.natsUrls, tls: profile.adminTls },
        systemCreds: profile.operator.systemCreds,
        controlCreds: profile.operator.controlCreds,
        tenantAdminCreds: tenantAdminCredsPath(dir, name),
        identities: profile.identities,
        provision: profile.provision,
      });
      mkdirSync(out, { recursive: true, mode: 0o700 });
      const admin = issueClient(dir, files, {
        name: `${name}-admin`,
        role: "admin",
        tenant: name,
        days: Number(o.days),
      });
      await untilPartiesServe(profile, name);
      await untilServed(new CustodyClient(profile.apiUrl, admin), name);
      const publicKey = JSON.parse(
        Buffer.from(readFileSync(files.credentialFile, "utf8").split(".")[0]!, "base64url").toString(),
      ).sub;
      if (o.json)
        return console.log(JSON.stringify({ tenant: name, account: entry.account, ...files, publicKey }));
      console.log(`tenant ${name}: NATS account ${entry.account}`);
      console.log(`admin credential ${files.credentialFile}, key ${files.seedFile}`);
      console.log(
        `use it with: custody keys list --seed ${files.seedFile} --credential ${files.credentialFile}`,
      );
    });

  tenants
    .command("list")
    .description("list the enrolled tenants: their NATS accounts and how many service identities serve them")
    .option("--profile <file>", "dev profile", DEFAULT_PROFILE)
    .option("--json", "print one JSON array")
    .action(async (o: { profile: string; json?: boolean }) => {
      const nc = await controlConnection(readProfile(resolve(o.profile)), "tenants-list");
      try {
        const rows = (await (await TenantRegistry.open(nc)).list())
          .map((e) => ({ tenant: e.tenant, account: e.account, identities: Object.keys(e.users).length }))
          .sort((a, b) => a.tenant.localeCompare(b.tenant));
        if (o.json) return console.log(JSON.stringify(rows));
        for (const r of rows) console.log(`${r.tenant.padEnd(24)} ${r.account}  ${r.identities} identities`);
      } finally {
        await nc.close();
      }
    });
}
