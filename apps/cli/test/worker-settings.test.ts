/**
 * `custody worker --job-threads`: a number from 0 to 15 or `auto`; anything else is refused with
 * one typed error line, from a flag or the environment, before the worker reads a key or connects.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CLI_MAIN } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "custody-worker-settings-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const missing = (name: string) => join(dir, name);

const worker = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(
    process.execPath,
    [
      CLI_MAIN,
      "worker",
      ...["--party", "1", "--worker-id", "w1", "--nats", "nats://127.0.0.1:1"],
      ...["--creds", missing("w.creds"), "--ledger", missing("ledger"), "--identity", missing("id")],
      ...["--directory", missing("parties.json"), "--authority", missing("authority.pub")],
      ...args,
    ],
    { encoding: "utf8", env: { ...process.env, ...env }, timeout: 20_000 },
  );

test("job threads other than auto or 0..15 are refused before the worker starts", { timeout: 60_000 }, () => {
  for (const [args, env] of [
    [["--job-threads", "16"], {}],
    [["--job-threads", "-1"], {}],
    [["--job-threads", "1.5"], {}],
    [["--job-threads", "many"], {}],
    [["--job-threads", "0x2"], {}],
    [["--job-threads", "1e1"], {}],
    [["--job-threads", " "], {}],
    [[], { CUSTODY_WORKER_JOB_THREADS: "x" }],
  ] as const) {
    const r = worker([...args], env);
    assert.equal(r.status, 1, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, /^error: job-threads must be auto or an integer from 0 to 15\n$/);
  }
  // Accepted values get past the check: the worker then fails on its first missing file instead.
  for (const v of ["auto", "0", "15"]) {
    const r = worker(["--job-threads", v]);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stderr, /job-threads/);
  }
});
