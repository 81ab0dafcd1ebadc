/**
 * `npm run chaos`: the fault-injection suite. Starts a 3-node JetStream cluster with R3 assets, the
 * API and two workers per party as real processes on loopback, creates keys, then runs every
 * scenario under load and writes the reliability table to docs/reliability.md (and stdout).
 * Exits non-zero if anything was lost, duplicated or mis-signed, a key stopped signing, or the run
 * exceeded its time budget.
 *
 * Options: `--only <text>[,<text>]` runs the scenarios whose name contains a text (the baseline
 * always runs); `--out <file>` writes elsewhere; `--no-write` only prints.
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Stack } from "../../src/index.js";
import { adminConnection } from "../broker.js";
import { PatientClient } from "./client.js";
import { Load, type PoolKey } from "./load.js";
import { clean, document, table } from "./report.js";
import { type ChaosContext, type Row, runScenario } from "./scenario.js";
import { baseline, faultScenarios, overload } from "./scenarios.js";

const BUDGET_S = 15 * 60;
const STACK = { heartbeatMs: 500, roundTimeoutMs: 5000, joinTimeoutMs: 5000, ackWaitMs: 5000 } as const;
const USERS = 4;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function createKeys(client: PatientClient): Promise<PoolKey[]> {
  const keys: PoolKey[] = [];
  for (const scheme of ["ed25519", "bip340", "ed25519", "bip340"] as const) {
    const s = await client.submit("/v1/keys", { scheme, threshold: 2, parties: 3, label: "chaos-pool" });
    if (!s.accepted) throw new Error(`DKG refused: ${s.code}`);
    const op = await client.settle(s.operation.id, 60_000);
    if (op?.status !== "succeeded") throw new Error(`DKG failed: ${JSON.stringify(op?.error)}`);
    const k = await client.key(op.keyId);
    if (!k?.publicKey) throw new Error(`key ${op.keyId} has no public key`);
    keys.push({ id: op.keyId, scheme, publicKey: k.publicKey });
  }
  return keys;
}

async function main(): Promise<number> {
  const started = new Date();
  const only = arg("--only")?.split(",");
  const dir = mkdtempSync(join(tmpdir(), "custody-chaos-"));
  const stack = await Stack.start({ dir, cluster: true, parties: 3, workers: 2, output: "files", ...STACK });
  const admin = await adminConnection(stack);
  const rows: Row[] = [];
  try {
    const client = new PatientClient(() => stack.apiUrl, stack.admin);
    const keys = await createKeys(client);
    const load = new Load({ client, keys, users: USERS, thinkMs: 100, followMs: 2000 });
    const ctx: ChaosContext = { stack, admin, client, load, keys };
    const run = async (s: Parameters<typeof runScenario>[1]) => {
      const row = await runScenario(ctx, s, 150_000);
      rows.push(row);
      console.log(table([row]).split("\n").slice(2).join("\n").trim());
      return row;
    };
    const base = await run(baseline);
    const rate = Math.max(1, Math.round((base.audit.succeeded / base.loadSeconds) * 10));
    const scenarios = [...faultScenarios, overload(rate)].filter(
      (s) => !only || only.some((o) => s.name.includes(o)),
    );
    for (const s of scenarios) await run(s);
  } finally {
    await admin.close().catch(() => {});
    await stack.stop();
    if (!process.env.KEEP_CHAOS) rmSync(dir, { recursive: true, force: true });
  }
  const seconds = Math.round((Date.now() - started.getTime()) / 1000);
  const setup =
    `3-node nats-server 2.9.10 cluster (R3 streams and buckets), API, 3 parties × 2 workers, ${USERS} ` +
    `virtual users; heartbeat ${STACK.heartbeatMs} ms, round and join timeouts ${STACK.roundTimeoutMs} ms, ` +
    `ack wait ${STACK.ackWaitMs} ms, max deliver 5; ${cpus().length} CPU cores.`;
  const doc = document(rows, { started, seconds, setup });
  console.log(`\n${table(rows)}\n${seconds} s`);
  if (!process.argv.includes("--no-write")) {
    const out = resolve(arg("--out") ?? "docs/reliability.md");
    writeFileSync(out, doc);
    console.log(`written to ${out}`);
  }
  const ok = clean(rows) && seconds <= BUDGET_S;
  if (!ok) console.error(seconds > BUDGET_S ? "over the time budget" : "lost, duplicated or invalid results");
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
