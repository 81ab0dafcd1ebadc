/**
 * `custody api` settings that need no broker to check: a signing rate or burst below 1 is refused
 * with one typed error line, from a flag or the environment, before anything connects.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createAuthority } from "@custody/credentials";
import { CLI_MAIN } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "custody-api-settings-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const authority = join(dir, "authority.pub");
writeFileSync(authority, `${createAuthority().publicKey}\n`);
const creds = join(dir, "api.creds");
writeFileSync(creds, "not used: the settings are refused first\n");

const api = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(
    process.execPath,
    [CLI_MAIN, "api", "--nats", "nats://127.0.0.1:1", "--creds", creds, "--authority", authority, ...args],
    { encoding: "utf8", env: { ...process.env, ...env }, timeout: 20_000 },
  );

test("a signing rate or burst of 0 is refused before the API connects", { timeout: 60_000 }, () => {
  for (const [args, env] of [
    [["--sign-rate", "0"], {}],
    [["--sign-burst", "0"], {}],
    [[], { CUSTODY_API_SIGN_RATE: "0" }],
  ] as const) {
    const r = api([...args], env);
    assert.equal(r.status, 1, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, /^error: sign-rate and sign-burst must be at least 1\n$/);
  }
  const r = api(["--sign-rate", "-3"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /non-negative integer/);
});
