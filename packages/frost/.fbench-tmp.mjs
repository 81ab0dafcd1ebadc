import { randomBytes } from "node:crypto";
import { runLocal } from "@custody/core";
const impls = { before: await import("./.old-tmp/dist/index.js"), after: await import("@custody/frost") };
const N = Number(process.env.N ?? 40);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
function run(starts) {
  const r = runLocal(starts);
  if (r.errors.size > 0 || r.stalled.length > 0) throw new Error(`failed: ${[...r.errors.values()].join("; ")}`);
  return r;
}
const ids = (n) => Array.from({ length: n }, (_, i) => i + 1);
const keygen = (scheme, t, n) => { const sid = randomBytes(32);
  return run(new Map(ids(n).map((p) => [p, () => scheme.keygen({ sessionId: sid, self: p, parties: ids(n), threshold: t })]))).results; };
const refresh = (scheme, shares) => { const sid = randomBytes(32);
  return run(new Map([...shares.keys()].map((p) => [p, () => scheme.refresh({ sessionId: sid, self: p, share: shares.get(p) })]))).results; };
const sign = (scheme, shares, path) => { const sessionId = randomBytes(32), message = randomBytes(32);
  run(new Map([1, 2].map((p) => [p, () => scheme.sign({ sessionId, self: p, share: shares.get(p), signers: [1, 2], message, ...(path ? { path } : {}) })]))); };
// worker path: decode the stored share on every signing
const signDecoded = (scheme, enc) => { const sessionId = randomBytes(32), message = randomBytes(32);
  run(new Map([1, 2].map((p) => [p, () => scheme.sign({ sessionId, self: p, share: scheme.decodeShare(enc.get(p)), signers: [1, 2], message })]))); };
const results = {};
const add = (scheme, impl, metric, ms) => (((results[scheme] ??= {})[metric] ??= {})[impl] ??= []).push(ms);
const time = (f) => { const t0 = performance.now(); f(); return performance.now() - t0; };
const setup = {};
for (const [impl, m] of Object.entries(impls)) for (const scheme of [m.ed25519Scheme, m.bip340Scheme]) {
  const s23 = keygen(scheme, 2, 3);
  setup[impl + scheme.name] = { scheme, s23, s35: keygen(scheme, 3, 5), enc: new Map([...s23].map(([p, s]) => [p, scheme.encodeShare(s)])) };
  for (let i = 0; i < 3; i++) sign(scheme, s23);
}
for (let i = 0; i < N; i++) for (const name of ["ed25519", "bip340"]) for (const impl of Object.keys(impls)) {
  const { scheme, s23, s35, enc } = setup[impl + name];
  add(name, impl, "sign 2-of-3", time(() => sign(scheme, s23)));
  add(name, impl, "sign 2-of-3, shares decoded per signing", time(() => signDecoded(scheme, enc)));
  if (name === "bip340") add(name, impl, "sign 2-of-3, path m/1/2", time(() => sign(scheme, s23, [1, 2])));
  if (i % 4 === 0) {
    add(name, impl, "keygen 2-of-3", time(() => keygen(scheme, 2, 3)));
    add(name, impl, "keygen 3-of-5", time(() => keygen(scheme, 3, 5)));
    add(name, impl, "refresh 2-of-3", time(() => refresh(scheme, s23)));
    add(name, impl, "refresh 3-of-5", time(() => refresh(scheme, s35)));
  }
}
console.log("| scheme | operation (all parties, in process) | before p50 ms | after p50 ms | speed-up |\n|---|---|---|---|---|");
for (const [name, metrics] of Object.entries(results)) for (const [metric, r] of Object.entries(metrics)) {
  const b = pct(r.before, 50), a = pct(r.after, 50);
  console.log(`| ${name} | ${metric} | ${b.toFixed(1)} | ${a.toFixed(1)} | ${(b / a).toFixed(1)}x |`);
}
