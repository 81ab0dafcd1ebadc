/**
 * `custody sign --batch FILE` checks its file before it loads a credential or calls the API: a
 * path that is given must be a BIP32 path, so `"path": ""` is an error rather than a signature with
 * the root key. No stack needed: the refusal comes first, and a good file goes on to the credential
 * (none here).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CLI_MAIN } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "custody-batch-file-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `custody sign --batch` on `items` with no credential; the exit status and the JSON error. */
let files = 0;
function signBatch(items: unknown) {
  const file = join(dir, `batch-${++files}.json`);
  writeFileSync(file, JSON.stringify(items));
  const cli = spawnSync(
    process.execPath,
    [
      CLI_MAIN,
      "sign",
      "--key",
      "key_x",
      "--batch",
      file,
      "--json",
      "--api",
      "http://127.0.0.1:9",
      "--profile",
      join(dir, "no-profile.json"),
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
  const lines = cli.stderr.trim().split("\n");
  return { status: cli.status, error: (JSON.parse(lines[lines.length - 1]!) as { error: string }).error };
}

test("an empty path in a batch file is refused, not signed with the root key", () => {
  const r = signBatch([{ message: "00" }, { message: "00", path: "" }]);
  assert.equal(r.status, 1);
  assert.equal(r.error, '--batch: item 1 has path "", not a BIP32 path m/…');
});

test("a path that is not m/… is refused, naming the item", () => {
  const r = signBatch([{ message: "00", path: "44/0" }]);
  assert.equal(r.status, 1);
  assert.match(r.error, /^--batch: item 0 has path "44\/0", not a BIP32 path/);
});

test("a file with real paths goes on to the credential", () => {
  const r = signBatch([{ message: "00", path: "m" }, { message: "00", path: "m/44/0" }, "00"]);
  assert.equal(r.status, 1);
  assert.match(r.error, /^no client credential/);
});
