// Mutation testing of the security-critical modules with StrykerJS (`npm run mutation [-- <group>...]`).
//
// Stryker mutates the TypeScript sources in a sandbox outside the repo (all mutants at once,
// switched on by `__STRYKER_ACTIVE_MUTANT__`); the build step compiles the sandbox with `tsc -b`
// and the `command` test runner calls this script back for every mutant. The dry run records,
// per test file, which mutants its code reaches (Stryker's own coverage counters); a mutant then
// runs only the covering test files of its group, in the group's order, and stops at the first
// failing test. A mutant no test reaches is reported as NoCoverage without running anything.
//
// Roles of this one file: launcher (no flag), `--build <group>` and `--exec <group>` (inside the
// sandbox, called by Stryker), node:test reporter (`--test-reporter=<this file>`: exits at the
// first failure) and coverage hook (`--import`, when MUTATION_COVERAGE_DIR is set).
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { threadId } from "node:worker_threads";

const SELF = fileURLToPath(import.meta.url);

/**
 * The module groups: the workspaces to build, the files (or `file:line-line` ranges) to mutate,
 * and the compiled test files that can kill their mutants, fastest and most targeted first.
 */
const GROUPS = {
  frost: {
    build: ["packages/frost"],
    mutate: [
      "packages/frost/src/wire.ts",
      "packages/frost/src/confirm.ts",
      "packages/frost/src/keygen/pok.ts",
      "packages/frost/src/keygen/round1.ts",
      "packages/frost/src/keygen/round2.ts",
      "packages/frost/src/sign/round1.ts",
      "packages/frost/src/sign/round2.ts",
      "packages/frost/src/refresh/round1.ts",
      "packages/frost/src/refresh/round2.ts",
      "packages/frost/src/sign/derive.ts",
      "packages/frost/src/sign/primitives.ts:113-272",
      "packages/frost/src/share.ts:196-294",
    ],
    tests: [
      "packages/frost/dist/test/inputs.test.js",
      "packages/frost/dist/test/rfc9591.test.js",
      "packages/frost/dist/test/keygen.test.js",
      "packages/frost/dist/test/sign.test.js",
      "packages/frost/dist/test/settle.test.js",
      "packages/frost/dist/test/refresh.test.js",
      "packages/frost/dist/test/derive.test.js",
      "packages/frost/dist/test/share.test.js",
      "packages/frost/dist/test/flow.test.js",
      "packages/frost/dist/test/mutation-*.test.js",
    ],
  },
  core: {
    build: ["packages/core"],
    mutate: ["packages/core/src/batch.ts", "packages/core/src/session.ts"],
    tests: ["packages/core/dist/test/*.test.js"],
  },
  "session-transport": {
    build: ["packages/runtime"],
    mutate: [
      "packages/runtime/src/session-transport.ts",
      "packages/runtime/src/job-threads.ts",
      "packages/runtime/src/thread-errors.ts",
    ],
    tests: [
      "packages/runtime/dist/test/job-threads.test.js",
      "packages/runtime/dist/test/session-thread-pool.test.js",
      "packages/runtime/dist/test/session-transport.test.js",
      "packages/runtime/dist/test/session-transport-edges.test.js",
      "packages/runtime/dist/test/mutation-*.test.js",
    ],
  },
  credentials: {
    build: ["packages/credentials"],
    mutate: ["packages/credentials/src/*.ts", "!packages/credentials/src/index.ts"],
    tests: ["packages/credentials/dist/test/*.test.js"],
  },
  store: {
    build: ["packages/store"],
    mutate: ["packages/store/src/*.ts", "!packages/store/src/index.ts"],
    tests: ["packages/store/dist/test/sealed.test.js", "packages/store/dist/test/*.test.js"],
  },
  dkls23: {
    build: ["packages/dkls23"],
    mutate: [
      "packages/dkls23/src/wire.ts",
      "packages/dkls23/src/zk/schnorr.ts",
      "packages/dkls23/src/keygen/context.ts",
      "packages/dkls23/src/keygen/round1.ts",
      "packages/dkls23/src/keygen/round2.ts",
      "packages/dkls23/src/keygen/round3.ts",
      "packages/dkls23/src/sign/context.ts",
      "packages/dkls23/src/sign/round2.ts",
      "packages/dkls23/src/sign/round3.ts",
      "packages/dkls23/src/ot/base-ot.ts",
      "packages/dkls23/src/ot/kos.ts",
      "packages/dkls23/src/vole.ts",
    ],
    tests: [
      "packages/dkls23/dist/test/kos.test.js",
      "packages/dkls23/dist/test/known-answers.test.js",
      "packages/dkls23/dist/test/primitives.test.js",
      "packages/dkls23/dist/test/vole.test.js",
      "packages/dkls23/dist/test/binding.test.js",
      "packages/dkls23/dist/test/malicious-sign.test.js",
      "packages/dkls23/dist/test/malicious.test.js",
      "packages/dkls23/dist/test/parallel.test.js",
      "packages/dkls23/dist/test/settle.test.js",
      "packages/dkls23/dist/test/protocol.test.js",
    ],
  },
  worker: {
    build: ["apps/worker"],
    mutate: ["apps/worker/src/authorization.ts", "apps/worker/src/jobs.ts", "apps/worker/src/pair-guard.ts"],
    tests: [
      "apps/worker/dist/test/authorization.test.js",
      "apps/worker/dist/test/jobs.test.js",
      "apps/worker/dist/test/batch-jobs.test.js",
      "apps/worker/dist/test/batch-budget.test.js",
      "apps/worker/dist/test/trust-anchor.test.js",
      "apps/worker/dist/test/pair-lock.test.js",
    ],
  },
  api: {
    build: ["apps/api"],
    mutate: [
      "apps/api/src/http/plugins/auth.ts",
      "apps/api/src/domain/aggregator.ts",
      "apps/api/src/domain/result-check.ts",
    ],
    // Unit and nats-server tests only: the e2e suites would cost minutes per surviving mutant.
    tests: [
      "apps/api/dist/test/result-check.test.js",
      "apps/api/dist/test/batch-result-check.test.js",
      "apps/api/dist/test/sign-limits.test.js",
      "apps/api/dist/test/aggregator.test.js",
      "apps/api/dist/test/auth.test.js",
    ],
  },
};

const MUTANT_ENV = "__STRYKER_ACTIVE_MUTANT__";

/**
 * Which argument of a call or constructor is human-readable message text. Tests assert the typed
 * error (kind, code, culprits), never its wording, so mutating the text only yields noise.
 */
const MESSAGE_ARG = {
  Error: 0,
  TypeError: 0,
  RangeError: 0,
  SealError: 0,
  ProtocolError: 1,
  AuthError: 1,
  TransportError: 1,
  DecodeError: 0,
  PermanentFailure: 1,
  LedgerError: 0,
  ReplayError: 0,
  KeyExistsError: 0,
  EpochTakenError: 0,
  StoreConflictError: 0,
  EpochNotActiveYet: 0,
  check: 2,
  parsePayload: 1,
  refuse: 1,
  unauthorized: 0,
};

const LOG_METHODS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);

/** True inside the arguments of a logger call (`log.warn(...)`, `req.log.info(...)`, `this.log.error(...)`). */
function insideLogCall(path) {
  for (let p = path.parentPath; p; p = p.parentPath) {
    const n = p.node;
    if (n.type !== "CallExpression" || n.callee.type !== "MemberExpression") continue;
    const { object, property } = n.callee;
    const logger =
      (object.type === "Identifier" && (object.name === "log" || object.name === "logger")) ||
      (object.type === "MemberExpression" &&
        object.property.type === "Identifier" &&
        object.property.name === "log");
    if (logger && property.type === "Identifier" && LOG_METHODS.has(property.name) && p.node !== path.node)
      return true;
  }
  return false;
}

/** Stryker plugin `error-messages`: ignores the message arguments listed in MESSAGE_ARG, and log output. */
export const strykerPlugins = [
  {
    kind: "Ignore",
    name: "error-messages",
    value: {
      shouldIgnore(path) {
        if (insideLogCall(path)) return "log output";
        const { node, parent } = path;
        if (node.type !== "StringLiteral" && node.type !== "TemplateLiteral") return undefined;
        if (parent.type !== "CallExpression" && parent.type !== "NewExpression") return undefined;
        const callee = parent.callee.type === "MemberExpression" ? parent.callee.property : parent.callee;
        const at = MESSAGE_ARG[callee.type === "Identifier" ? callee.name : ""];
        return at !== undefined && parent.arguments[at] === node ? "error message text" : undefined;
      },
    },
  },
];

// ---- coverage hook (loaded with --import into every node process and thread of a dry-run test
// file; a process killed by a signal keeps its last periodic dump) ----
if (process.env.MUTATION_COVERAGE_DIR) {
  const dir = process.env.MUTATION_COVERAGE_DIR;
  const dump = () => {
    const hits = globalThis.__stryker__?.mutantCoverage?.static;
    if (hits) writeFileSync(join(dir, `${process.pid}-${threadId}.json`), JSON.stringify(Object.keys(hits)));
  };
  process.on("exit", dump);
  setInterval(dump, 250).unref();
}

/** node:test reporter: ends the process at the first failing test (the mutant is killed). */
export default async function* bail(source) {
  for await (const event of source) {
    if (event.type === "test:fail" && !event.data.todo) {
      process.stderr.write(`mutation: killed by "${event.data.name}" in ${event.data.file ?? "?"}\n`);
      process.exit(1);
    }
    if (event.type === "test:pass") yield ".";
  }
}

/** The state directory of a group, outside the repo (Biome and tsc must not see the sandbox). */
const stateDir = (group) => join(process.env.MUTATION_TMP ?? join(tmpdir(), "custody-mutation"), group);

/**
 * Expands the group's test list against the current tree: a `*` matches within a file name (never
 * a slow suite); each file is listed once, at its first match.
 */
function testFiles(group) {
  // `--tests` narrows a run to some of the group's test files (passed to the sandbox in the environment).
  const only = process.env.MUTATION_TESTS?.split(",").filter(Boolean);
  const files = (only ?? GROUPS[group].tests).flatMap((pattern) => {
    if (!pattern.includes("*")) return existsSync(pattern) ? [pattern] : [];
    const dir = dirname(pattern);
    const re = new RegExp(
      `^${pattern
        .slice(dir.length + 1)
        .replace(/[.]/g, "\\.")
        .replace("*", ".*")}$`,
    );
    return existsSync(dir)
      ? readdirSync(dir)
          .filter((n) => re.test(n) && !n.endsWith(".slow.test.js"))
          .sort()
          .map((n) => join(dir, n))
      : [];
  });
  return [...new Set(files)];
}

const runNode = (args, env = process.env) =>
  spawnSync(process.execPath, args, { stdio: "inherit", env }).status ?? 1;

// ---- --build <group>: inside the sandbox, after Stryker wrote the instrumented sources ----
function build(group) {
  const repo = process.env.MUTATION_REPO;
  // Resolve every package from the repo's node_modules, but @custody/* from the sandbox, so tests
  // in one workspace exercise the mutated sources of another.
  mkdirSync("node_modules/@custody", { recursive: true });
  for (const name of readdirSync(join(repo, "node_modules"))) {
    if (name !== "@custody") symlinkSync(join(repo, "node_modules", name), join("node_modules", name));
  }
  for (const ws of ["packages", "apps"].flatMap((r) => readdirSync(r).map((n) => join(r, n)))) {
    const pkg = JSON.parse(readFileSync(join(ws, "package.json"), "utf8"));
    symlinkSync(relative("node_modules/@custody", ws), join("node_modules", pkg.name));
    const nested = join(repo, ws, "node_modules");
    if (existsSync(nested) && !existsSync(join(ws, "node_modules")))
      symlinkSync(nested, join(ws, "node_modules"));
  }
  // Stryker marks mutated files `@ts-nocheck`; the mutants can still change inferred types seen by
  // the tests, so a type error does not stop the build as long as the test files were emitted.
  const tsc = join(repo, "node_modules/typescript/bin/tsc");
  const status = runNode([tsc, "-b", ...GROUPS[group].build]);
  const missing = GROUPS[group].tests.filter((t) => !t.includes("*") && !existsSync(t));
  if (status !== 0) console.error(`mutation: tsc -b exited ${status}; continuing with the emitted files`);
  if (missing.length > 0) {
    console.error(`mutation: test files missing after the build: ${missing.join(", ")}`);
    process.exit(1);
  }
}

// ---- --exec <group>: Stryker's test command ----
function exec(group) {
  const state = stateDir(group);
  const files = testFiles(group);
  const mutant = process.env[MUTANT_ENV];
  if (mutant === undefined) {
    // Dry run: every test file once, recording the mutants its code reaches.
    const coverage = {};
    for (const [i, file] of files.entries()) {
      const dir = join(state, "coverage", String(i));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const env = {
        ...process.env,
        MUTATION_COVERAGE_DIR: dir,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${pathToFileURL(SELF).href}`.trim(),
      };
      const status = runNode(["--test-reporter=spec", file], env);
      if (status !== 0) {
        console.error(`mutation: ${file} fails without any mutant`);
        process.exit(1);
      }
      for (const dump of readdirSync(dir)) {
        for (const id of JSON.parse(readFileSync(join(dir, dump), "utf8"))) {
          coverage[id] ??= new Set();
          coverage[id].add(file);
        }
      }
    }
    const out = Object.fromEntries(Object.entries(coverage).map(([id, s]) => [id, [...s]]));
    writeFileSync(join(state, "coverage.json"), JSON.stringify(out));
    return;
  }
  const coverage = JSON.parse(readFileSync(join(state, "coverage.json"), "utf8"));
  for (const file of files.filter((f) => coverage[mutant]?.includes(f))) {
    if (runNode([`--test-reporter=${pathToFileURL(SELF).href}`, file]) !== 0) process.exit(1);
  }
}

// ---- launcher ----
function summarize(group, report, coverage) {
  const rows = [];
  const counts = {};
  for (const [file, entry] of Object.entries(report.files)) {
    const lines = entry.source.split("\n");
    for (const m of entry.mutants) {
      if (m.status === "Survived" && !coverage[m.id]) m.status = "NoCoverage";
      counts[m.status] = (counts[m.status] ?? 0) + 1;
      if (m.status === "Survived" || m.status === "NoCoverage") {
        const { start, end } = m.location;
        // The exact mutated range (columns are 1-based), so that two mutants of one line differ.
        const original =
          start.line === end.line
            ? (lines[start.line - 1] ?? "").slice(start.column - 1, end.column - 1)
            : `${(lines[start.line - 1] ?? "").slice(start.column - 1)}…`;
        rows.push(
          `- \`${file}:${start.line}:${start.column}-${end.line}:${end.column}\` ${m.status} ${m.mutatorName}: ` +
            `\`${original.replace(/\s+/g, " ").slice(0, 80)}\` → \`${(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 80)}\``,
        );
      }
    }
  }
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  const score = valid === 0 ? 100 : (100 * detected) / valid;
  const md = [
    `# Mutation report: ${group}`,
    "",
    ...(process.env.MUTATION_TESTS ? [`Tests narrowed to: ${process.env.MUTATION_TESTS}`, ""] : []),
    `Score ${score.toFixed(1)}% (${detected} of ${valid} valid mutants detected). ` +
      Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    "",
    "## Surviving mutants",
    "",
    ...(rows.length ? rows : ["none"]),
    "",
  ].join("\n");
  return { score, counts, md };
}

function launch(groups, mutate) {
  const repo = resolve(dirname(SELF), "..");
  const reports = join(repo, "reports", "mutation");
  mkdirSync(reports, { recursive: true });
  const results = [];
  for (const group of groups) {
    const state = stateDir(group);
    rmSync(state, { recursive: true, force: true });
    mkdirSync(state, { recursive: true });
    const config = {
      $schema: join(repo, "node_modules/@stryker-mutator/core/schema/stryker-schema.json"),
      testRunner: "command",
      commandRunner: { command: `node scripts/mutation.mjs --exec ${group}` },
      buildCommand: `node scripts/mutation.mjs --build ${group}`,
      mutate: mutate.length > 0 ? mutate : GROUPS[group].mutate,
      coverageAnalysis: "off",
      plugins: ["@stryker-mutator/*", SELF],
      ignorers: ["error-messages"],
      concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 1),
      symlinkNodeModules: false,
      tempDirName: join(state, "sandbox"),
      cleanTempDir: "always",
      // docs/*.json stays: tests read the published test vectors from it.
      ignorePatterns: ["dist", "reports", "bench-results", ".custody", "*.md"],
      disableTypeChecks: "{packages,apps}/*/src/**/*.ts",
      timeoutMS: 15000,
      timeoutFactor: 1.5,
      reporters: ["json", "progress-append-only"],
      jsonReporter: { fileName: join(state, "stryker.json") },
      thresholds: { high: 90, low: 75, break: null },
    };
    const configFile = join(state, "stryker.config.json");
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    console.log(`mutation: ${group} (config ${configFile})`);
    const status = runNode(
      [join(repo, "node_modules/@stryker-mutator/core/bin/stryker.js"), "run", configFile],
      { ...process.env, MUTATION_REPO: repo, MUTATION_TMP: dirname(state) },
    );
    if (status !== 0 || !existsSync(config.jsonReporter.fileName)) {
      console.error(`mutation: stryker failed for ${group} (exit ${status})`);
      results.push(`| ${group} | failed | |`);
      continue;
    }
    const report = JSON.parse(readFileSync(config.jsonReporter.fileName, "utf8"));
    const coverage = JSON.parse(readFileSync(join(state, "coverage.json"), "utf8"));
    const { score, counts, md } = summarize(group, report, coverage);
    writeFileSync(join(reports, `${group}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(reports, `${group}.md`), md);
    console.log(`mutation: ${group} score ${score.toFixed(1)}%`);
    results.push(`| ${group} | ${score.toFixed(1)}% | ${JSON.stringify(counts)} |`);
  }
  const summary = join(reports, "summary.md");
  const previous = existsSync(summary) ? readFileSync(summary, "utf8").split("\n").slice(4) : [];
  const kept = previous.filter((l) => l.startsWith("| ") && !groups.some((g) => l.startsWith(`| ${g} |`)));
  writeFileSync(
    summary,
    ["# Mutation scores", "", "| group | score | mutants |", "|---|---|---|", ...kept, ...results, ""].join(
      "\n",
    ),
  );
  // Keep the tree clean for `biome check .`, which also reads reports/.
  runNode([join(repo, "node_modules/@biomejs/biome/bin/biome"), "format", "--write", reports]);
  console.log(readFileSync(summary, "utf8"));
  return results.some((r) => r.includes("| failed |")) ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const args = process.argv.slice(2);
  // `--mutate <file[:lines]>` (repeatable) narrows a run to part of a group.
  const mutate = args.flatMap((a, i) => (args[i - 1] === "--mutate" ? [a] : []));
  // `--tests <compiled test file>` (repeatable) runs only those of the group's tests.
  const tests = args.flatMap((a, i) => (args[i - 1] === "--tests" ? [a] : []));
  if (tests.length > 0) process.env.MUTATION_TESTS = tests.join(",");
  const options = new Set(["--mutate", "--tests"]);
  const [flag, ...rest] = args.filter((a, i) => !options.has(a) && !options.has(args[i - 1]));
  const unknown = [flag, ...rest].filter((g) => g && !g.startsWith("--") && !(g in GROUPS));
  if (unknown.length > 0) {
    console.error(`unknown group ${unknown.join(", ")}; groups: ${Object.keys(GROUPS).join(", ")}`);
    process.exit(2);
  }
  if (flag === "--build") build(rest[0]);
  else if (flag === "--exec") exec(rest[0]);
  else process.exit(launch(flag ? [flag, ...rest] : Object.keys(GROUPS), mutate));
}
