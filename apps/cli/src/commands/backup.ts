/**
 * `custody backup --party N | --api --out FILE [--tenant T ...]`: writes one party's still-sealed
 * records (share bucket, served ledger) or the API's records and the audit stream of every tenant
 * (or of those named) to a `custody-backup` file. `custody restore FILE ... [--ledger FILE ...]`
 * loads backups into a broker whose accounts and buckets exist, create-only, and refuses a party
 * backup that a later refresh retired. Both connect as the operator's tenant admin users.
 * @module
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  type Backup,
  backupApi,
  backupParty,
  brokerAccess,
  RestoreRefusedError,
  type RestoreReport,
  readBackup,
  restoreBackups,
  writeBackup,
} from "../operator/backup.js";
import { action, DEFAULT_PROFILE } from "./client.js";
import { SUMMARY } from "./summaries.js";

const collect = (value: string, previous: string[]) => [...previous, value];

function summary(b: Backup) {
  const m = b.manifest;
  const keys = Object.values(m.keys).reduce((n, perTenant) => n + Object.keys(perTenant).length, 0);
  return {
    kind: m.kind,
    ...(m.kind === "party" ? { party: m.party } : {}),
    tenants: m.tenants,
    keys,
    records: m.records.length,
    createdAt: m.createdAt,
  };
}

function printReport(r: RestoreReport): void {
  console.log(`restored: ${r.created} records created, ${r.skipped} identical ones skipped`);
  for (const c of r.conflicts) console.log(`conflict (not written): ${c}`);
  if (r.audit)
    console.log(
      `audit: ${r.audit.appended} entries appended, ${r.audit.skipped} already there${r.audit.note ? `; ${r.audit.note}` : ""}`,
    );
}

/** Adds `backup` and `restore` to `program`. */
export function registerBackupCommands(program: Command): void {
  program
    .command("backup")
    .description(SUMMARY.backup)
    .option("--party <n>", "the party whose share bucket and served ledger to back up")
    .option(
      "--api",
      "back up the API's key, operation, idempotency and credential records, and the audit stream",
    )
    .requiredOption("--out <file>", "backup file to write (JSON Lines, format custody-backup v1)")
    .option("--tenant <name>", "only this tenant (repeatable; default: every enrolled tenant)", collect, [])
    .option("--profile <file>", "dev profile", DEFAULT_PROFILE)
    .option("--json", "print one JSON object")
    .action(
      action(
        async (o: {
          party?: string;
          api?: boolean;
          out: string;
          tenant: string[];
          profile: string;
          json?: boolean;
        }) => {
          if ((o.party === undefined) === !o.api) throw new Error("give exactly one of --party N and --api");
          const party = Number(o.party);
          if (o.party !== undefined && !(Number.isSafeInteger(party) && party >= 1))
            throw new Error(`invalid party ${o.party}`);
          const access = brokerAccess(o.profile);
          const backup = o.api
            ? await backupApi(access, o.tenant)
            : await backupParty(access, party, o.tenant);
          const file = resolve(o.out);
          writeBackup(file, backup);
          const s = summary(backup);
          if (o.json) return console.log(JSON.stringify({ file, ...s }));
          const who = backup.manifest.kind === "party" ? `party ${backup.manifest.party}` : "the API";
          console.log(
            `backup of ${who}: ${s.records} records, ${s.keys} keys, tenants ${s.tenants.join(", ")} -> ${file}`,
          );
        },
      ),
    );

  program
    .command("restore")
    .description(SUMMARY.restore)
    .argument("<files...>", "backup files (the API's is restored first)")
    .option(
      "--ledger <file>",
      "a worker's local ledger file, to refuse a retired backup (repeatable)",
      collect,
      [],
    )
    .option("--force", "restore even a backup that looks retired (workers still refuse to use it)")
    .option("--profile <file>", "dev profile", DEFAULT_PROFILE)
    .option("--json", "print one JSON object")
    .action(
      action(
        async (
          files: string[],
          o: { ledger: string[]; force?: boolean; profile: string; json?: boolean },
        ) => {
          const backups = files.map((f) => readBackup(resolve(f)));
          try {
            const report = await restoreBackups(brokerAccess(o.profile), backups, {
              ledgers: o.ledger.map((f) => resolve(f)),
              force: o.force,
            });
            if (o.json) console.log(JSON.stringify(report));
            else printReport(report);
            if (report.conflicts.length > 0) process.exitCode = 1;
          } catch (e) {
            if (!(e instanceof RestoreRefusedError) || !o.json) throw e;
            console.error(
              JSON.stringify({ error: "restore refused", reasons: e.reasons, conflicts: e.conflicts }),
            );
            process.exitCode = 1;
          }
        },
      ),
    );
}
