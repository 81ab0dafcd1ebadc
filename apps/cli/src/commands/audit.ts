/**
 * `custody audit verify`: reads the audit stream (control account) as the operator's control
 * admin and checks every link of the hash chain; reports the first broken link and exits 1 when
 * there is one.
 * @module
 */
import { resolve } from "node:path";
import { verifyAuditChain } from "@custody/runtime";
import { jetstream } from "@nats-io/jetstream";
import type { Command } from "commander";
import { controlConnection, readProfile } from "../operator/profile.js";
import { DEFAULT_PROFILE } from "./client.js";
import { SUMMARY } from "./summaries.js";

/** Adds `audit verify` to `program`. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description(SUMMARY.audit);
  audit
    .command("verify")
    .description("check every link of the audit chain")
    .option("--profile <file>", "profile file", DEFAULT_PROFILE)
    .option("--json", "print one JSON object")
    .action(async (o: { profile: string; json?: boolean }) => {
      const nc = await controlConnection(readProfile(resolve(o.profile)), "audit-verify");
      try {
        const v = await verifyAuditChain(jetstream(nc));
        if (o.json) console.log(JSON.stringify(v));
        else if (v.brokenAt === undefined) console.log(`audit chain intact: ${v.entries} entries`);
        else
          console.log(
            `audit chain BROKEN at entry ${v.brokenAt}: ${v.reason} (${v.entries} entries verified before it)`,
          );
        if (v.brokenAt !== undefined) process.exitCode = 1;
      } finally {
        await nc.close();
      }
    });
}
