// Runs every compiled test file (`dist/test/**/*.test.js` in each workspace) with node's test runner.
// Node 20's `--test` takes no globs, so we list the files here. Extra args filter by path substring.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

// `--slow` runs only the slow suites (`*.slow.test.js`), which the normal run leaves out.
const slow = process.argv.includes("--slow");
const filters = process.argv.slice(2).filter((a) => a !== "--slow");
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.js")) files.push(p);
  }
};
for (const root of ["packages", "apps"]) {
  if (!existsSync(root)) continue;
  for (const ws of readdirSync(root)) {
    const dir = join(root, ws, "dist", "test");
    if (existsSync(dir)) walk(dir);
  }
}
const selected = files
  .filter((f) => f.endsWith(".slow.test.js") === slow)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (selected.length === 0) {
  console.error("no test files found: run `npm run build` first");
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? "1";
// Each test file fails once it has run this long (Node 20 applies `--test-timeout` to every file
// the runner starts), so a hang fails the run instead of stalling CI. Default 10 min per file,
// 30 min for the slow suites; TEST_TIMEOUT_MS overrides both.
const timeoutMs = process.env.TEST_TIMEOUT_MS ?? (slow ? "1800000" : "600000");
if (!/^[1-9][0-9]*$/.test(timeoutMs)) {
  console.error(`TEST_TIMEOUT_MS must be a positive number of milliseconds, not ${timeoutMs}`);
  process.exit(1);
}
// Three phases. The pure protocol and client packages never start a broker or a stack, and the
// broker-backed unit suites of the API, worker, runtime and store start one broker each and no
// stack: both run two files at a time. The end-to-end suites (stacks of processes) and the session
// transport's timing tests run one file at a time.
const PURE = ["core", "frost", "dkls23", "credentials", "sdk", "proto"].map((p) => join("packages", p, ""));
const UNIT = [
  ...["runtime", "store", "natsd"].map((p) => join("packages", p, "")),
  ...["api", "worker"].map((a) => join("apps", a, "")),
];
const SERIAL = [join("packages", "runtime", "dist", "test", "session-transport")];
const pure = selected.filter((f) => PURE.some((p) => f.startsWith(p)));
const unit = selected.filter(
  (f) => UNIT.some((p) => f.startsWith(p)) && !SERIAL.some((s) => f.startsWith(s)),
);
const rest = selected.filter((f) => !pure.includes(f) && !unit.includes(f));
const run = (files, n) =>
  files.length === 0
    ? 0
    : (spawnSync(
        process.execPath,
        [
          "--test",
          `--test-concurrency=${n}`,
          `--test-timeout=${timeoutMs}`,
          "--test-reporter=spec",
          ...files,
        ],
        { stdio: "inherit" },
      ).status ?? 1);
const parallel = Math.max(2, Number(concurrency));
const failed = [run(pure, parallel), run(unit, parallel), run(rest, concurrency)];
process.exit(failed.find((s) => s !== 0) ?? 0);
