// Enforces the dependency direction: apps -> runtime/transport/store -> protocol packages -> core.
// Each workspace has a layer; a source file may import a @custody package only from a lower layer,
// only if its package.json declares it, and protocol code may not import any I/O module.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const LAYER = {
  "@custody/core": 0,
  "@custody/proto": 0,
  "@custody/credentials": 1,
  "@custody/frost": 1,
  "@custody/dkls23": 1,
  "@custody/natsd": 2,
  "@custody/runtime": 2,
  "@custody/store": 2,
  "@custody/sdk": 2,
  "@custody/worker": 3,
  "@custody/api": 3,
  "@custody/cli": 4,
};
const PURE = new Set(["@custody/core", "@custody/frost", "@custody/dkls23", "@custody/credentials"]);
const IO =
  /^(node:)?(fs|net|http|https|child_process|dgram|tls|worker_threads|cluster)(\/|$)|^@nats-io\/(?!nkeys)/;

const problems = [];
const files = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? (n === "gen" ? [] : files(p)) : p.endsWith(".ts") ? [p] : [];
  });
for (const root of ["packages", "apps"]) {
  for (const ws of readdirSync(root)) {
    const pkg = JSON.parse(readFileSync(join(root, ws, "package.json"), "utf8"));
    const declared = new Set(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }));
    const layer = LAYER[pkg.name];
    if (layer === undefined) problems.push(`${pkg.name}: no layer assigned in scripts/check-layers.mjs`);
    for (const f of files(join(root, ws, "src"))) {
      const src = readFileSync(f, "utf8");
      for (const m of src.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
        const spec = m[1];
        const target = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec;
        if (PURE.has(pkg.name) && IO.test(spec))
          problems.push(`${f}: protocol code imports I/O module ${spec}`);
        if (!target.startsWith("@custody/")) continue;
        if (!declared.has(target)) problems.push(`${f}: imports ${target} without declaring it`);
        if (LAYER[target] === undefined || LAYER[target] >= layer)
          problems.push(`${f}: ${pkg.name} may not import ${target} (layer)`);
      }
    }
  }
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("layers ok");
