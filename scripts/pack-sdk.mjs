// Packs @custody/sdk into one self-contained tarball: the SDK with its workspace dependencies
// (@custody/credentials, @custody/core) and their registry dependencies bundled
// (`bundleDependencies`), so `npm install ./custody-sdk-<version>.tgz` needs no registry and no
// workspace. The chain libraries stay optional peer dependencies, installed by the user.
//
//   node scripts/pack-sdk.mjs [--out DIR] [--no-build]
//
// Builds the SDK (`tsc -b packages/sdk`) unless --no-build, stages the package in a temporary
// directory, runs `npm pack` there and prints the tarball's path. A plain `npm pack` of the workspace
// is refused (its prepack runs this script with --refuse-plain-pack): that tarball would depend on
// workspace packages no registry has.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);

if (args.includes("--refuse-plain-pack")) {
  console.error(
    "@custody/sdk: pack it with `node scripts/pack-sdk.mjs` (bundles its workspace dependencies)",
  );
  process.exit(1);
}

const outIndex = args.indexOf("--out");
const out = resolve(outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1] : process.cwd());

const readJson = (file) => JSON.parse(readFileSync(file, "utf8"));
const run = (cmd, cmdArgs, cwd) => {
  const r = spawnSync(cmd, cmdArgs, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (r.status !== 0) {
    console.error(`${cmd} ${cmdArgs.join(" ")} failed (exit ${r.status})`);
    process.exit(1);
  }
  return r.stdout;
};

if (!args.includes("--no-build"))
  run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-b", "packages/sdk"], ROOT);

/** Workspace packages by name. */
const workspaces = new Map(
  ["core", "credentials", "sdk"].map((d) => [readJson(join(ROOT, "packages", d, "package.json")).name, d]),
);

/** The installed directory of registry package `name` as seen from `fromDir` (node's lookup). */
function installedDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed (from ${fromDir}): run npm ci`);
  }
}

const stage = mkdtempSync(join(tmpdir(), "custody-sdk-pack-"));
try {
  const sdkDir = join(ROOT, "packages/sdk");
  const sdk = readJson(join(sdkDir, "package.json"));
  /** name -> version of every bundled package. */
  const bundled = new Map();

  /** Copies a workspace package's published files (dist/src, src) and a publishable manifest. */
  const stageWorkspace = (name, into) => {
    const dir = join(ROOT, "packages", workspaces.get(name));
    for (const part of ["dist/src", "src"]) cpSync(join(dir, part), join(into, part), { recursive: true });
    const {
      private: _p,
      scripts: _s,
      devDependencies: _d,
      ...manifest
    } = readJson(join(dir, "package.json"));
    return { manifest, dir };
  };

  /** Stages `name` (needed by the package in `fromDir`) and, recursively, its dependencies. */
  const add = (name, fromDir) => {
    const target = join(stage, "node_modules", name);
    let manifest;
    let dir;
    if (workspaces.has(name)) {
      ({ manifest, dir } = stageWorkspace(name, target));
      writeFileSync(join(target, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    } else {
      dir = installedDir(name, fromDir);
      manifest = readJson(join(dir, "package.json"));
    }
    const seen = bundled.get(name);
    if (seen !== undefined) {
      if (seen !== manifest.version)
        throw new Error(`${name}: both ${seen} and ${manifest.version} are needed; cannot flatten`);
      return;
    }
    bundled.set(name, manifest.version);
    if (!workspaces.has(name))
      cpSync(dir, target, {
        recursive: true,
        filter: (src) => !src.slice(dir.length).includes("node_modules"),
      });
    for (const dep of Object.keys(manifest.dependencies ?? {})) add(dep, dir);
  };
  for (const dep of Object.keys(sdk.dependencies ?? {})) add(dep, sdkDir);

  for (const part of ["dist/src", "src", "README.md"])
    cpSync(join(sdkDir, part), join(stage, part), { recursive: true });
  const { private: _p, scripts: _s, devDependencies: _d, ...manifest } = sdk;
  const names = [...bundled.keys()].sort();
  manifest.dependencies = Object.fromEntries(names.map((n) => [n, bundled.get(n)]));
  manifest.bundleDependencies = names;
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);

  mkdirSync(out, { recursive: true });
  const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", out], stage));
  console.log(join(out, packed.filename));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
