/**
 * `custody provision`: from the operator's directory, creates the control account's assets on the
 * cluster and enrols every tenant (pushes its account, creates its streams, consumers and buckets
 * with the configured replicas, publishes its registry entry with a user JWT for every service
 * identity). Idempotent; waits for a cluster that is still electing its leaders.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loadOrCreateTrust } from "@custody/natsd";
import { connectNats, provisionControl, readCreds } from "@custody/runtime";
import type { Command } from "commander";
import { enrolTenant, type ServiceIdentity } from "../operator/tenants.js";
import { addSettingFlags, brokerTlsOf, ConfigError, Settings } from "./config.js";
import { SUMMARY } from "./summaries.js";

/** The service identities to enrol (`operator/identities.json` from `custody init`). */
export function readIdentities(file: string): ServiceIdentity[] {
  if (!existsSync(file)) throw new ConfigError("missing-file", `no identities file ${file}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ConfigError("bad-file", `${file} is not JSON`);
  }
  const ok = (i: unknown): i is ServiceIdentity => {
    const x = i as Partial<Record<"role" | "name" | "publicKey" | "party", unknown>>;
    return (
      typeof x === "object" &&
      x !== null &&
      typeof x.name === "string" &&
      typeof x.publicKey === "string" &&
      /^U[A-Z2-7]{55}$/.test(x.publicKey) &&
      (x.role === "api" || (x.role === "worker" && Number.isInteger(x.party) && (x.party as number) >= 1))
    );
  };
  if (!Array.isArray(raw) || !raw.every(ok))
    throw new ConfigError("bad-file", `${file} must list identities {role, name, publicKey, party}`);
  return raw;
}

/** Adds `provision` to `program`. */
export function registerProvisionCommands(program: Command): void {
  addSettingFlags(program.command("provision").description(SUMMARY.provision), "provision").action(
    async (flags: Record<string, unknown>) => {
      const s = Settings.resolve("provision", flags);
      const trustDir = s.str("trust-dir");
      for (const f of ["operator.nk", "system.nk", "control.nk", "system-admin.creds", "control-admin.creds"])
        if (!existsSync(join(trustDir, f)))
          throw new ConfigError("missing-file", `no ${f} in ${trustDir}: trust-dir is the operator's trust/`);
      const root = loadOrCreateTrust(trustDir);
      const identities = readIdentities(s.str("identities"));
      const parties = [...new Set(identities.flatMap((i) => (i.role === "worker" ? [i.party] : [])))].sort(
        (a, b) => a - b,
      );
      const connect = { servers: s.list("nats")!, tls: brokerTlsOf(s) };
      const replicas = s.int("replicas");
      const controlCreds = join(trustDir, "control-admin.creds");
      const deadline = Date.now() + s.int("wait-ms");
      // A cluster answers JetStream requests only once it has a meta leader: retry until then.
      for (;;) {
        try {
          const nc = await connectNats({
            ...connect,
            credentials: readCreds(controlCreds),
            name: "control-admin",
            timeoutMs: 5000,
          });
          try {
            await provisionControl(nc, { replicas });
          } finally {
            await nc.close();
          }
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(500);
        }
      }
      for (const tenant of s.list("tenants")!) {
        await enrolTenant({
          root,
          tenant,
          connect,
          systemCreds: join(trustDir, "system-admin.creds"),
          controlCreds,
          tenantAdminCreds: join(trustDir, "accounts", `${tenant}-admin.creds`),
          identities,
          provision: { parties, replicas, ackWaitMs: s.int("ack-wait-ms") },
        });
        console.log(`tenant ${tenant}: provisioned (R${replicas}, parties ${parties.join(",")})`);
      }
    },
  );
}
