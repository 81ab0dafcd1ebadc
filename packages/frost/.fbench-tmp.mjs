import { randomBytes } from "node:crypto";
import { runLocal } from "@custody/core";
import { bip340Scheme, ed25519Scheme } from "@custody/frost";
const N = Number(process.env.N ?? 40);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
function run(starts) {
  const r = runLocal(starts);
  if (r.errors.size > 0 || r.stalled.length > 0) throw new Error(`failed: ${[...r.errors.values()].join("; ")}`);
  return r;
}
const ids = (n) => Array.from({ length: n }, (_, i) => i + 1);
function keygen(scheme, t, n) {
  const sid = randomBytes(32);
  return run(new Map(ids(n).map((p) => [p, () => scheme.keygen({ sessionId: sid, self: p, parties: ids(n), threshold: t })]))).results;
}
function refresh(scheme, shares, n) {
  const sid = randomBytes(32);
  return run(new Map(ids(n).map((p) => [p, () => scheme.refresh({ sessionId: sid, self: p, share: shares.get(p), parties: ids(n) })]))).results;
}
function time(f, k) { const ts = []; for (let i = 0; i < k; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } return pct(ts, 50); }
const only = process.env.ONLY;
const out = {};
for (const scheme of [ed25519Scheme, bip340Scheme]) {
  if (only && only !== scheme.name) continue;
  const shares = keygen(scheme, 2, 3);
  const sign = () => { const sessionId = randomBytes(32), message = randomBytes(32);
    run(new Map([1, 2].map((p) => [p, () => scheme.sign({ sessionId, self: p, share: shares.get(p), signers: [1, 2], message })]))); };
  for (let i = 0; i < 5; i++) sign();
  const r = { sign23: time(sign, N) };
  if (!process.env.SIGNONLY) {
    r.keygen23 = time(() => keygen(scheme, 2, 3), 8);
    r.keygen35 = time(() => keygen(scheme, 3, 5), 6);
    r.refresh23 = time(() => refresh(scheme, shares, 3), 8);
    const s5 = keygen(scheme, 3, 5);
    r.refresh35 = time(() => refresh(scheme, s5, 5), 6);
  }
  out[scheme.name] = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 100) / 100]));
}
console.log(JSON.stringify(out));
