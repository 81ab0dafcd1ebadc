// `npm run bench`: end-to-end latency and throughput through API + NATS + workers, next to the
// in-process protocol cost measured in the same run (ratios, since these machines are noisy).
// Writes bench-results/bench-<time>.json and bench-results/latest.json and prints a summary.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stack } from "@custody/cli";
import { runLocal } from "@custody/core";
import { bip340Scheme, ed25519Scheme } from "@custody/frost";
import { CustodyClient } from "@custody/sdk";
import { benchDkls23 } from "../packages/dkls23/dist/test/bench.js";

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 40);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 16);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 120);
const LOCAL = Number(process.env.BENCH_LOCAL ?? 60);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const stats = (xs) => ({
  n: xs.length,
  p50: pct(xs, 50),
  p95: pct(xs, 95),
  mean: xs.reduce((a, b) => a + b, 0) / xs.length,
});
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function localRun(scheme, start) {
  const run = runLocal(new Map([1, 2, 3].map((p) => [p, () => start(p)])));
  if (run.errors.size > 0 || run.stalled.length > 0)
    throw new Error(`local ${scheme.name} run failed: ${[...run.errors.values()].join("; ")}`);
  return run;
}

function inProcess(scheme) {
  const keygenSession = randomBytes(32);
  const keygen = localRun(scheme, (self) =>
    scheme.keygen({ sessionId: keygenSession, self, parties: [1, 2, 3], threshold: 2 }),
  );
  const shares = keygen.results;
  const times = [];
  let bytes = 0;
  for (let i = 0; i < LOCAL; i++) {
    const message = randomBytes(32);
    const sessionId = randomBytes(32);
    const t0 = performance.now();
    const run = runLocal(
      new Map(
        [1, 2].map((p) => [
          p,
          () => scheme.sign({ sessionId, self: p, share: shares.get(p), signers: [1, 2], message }),
        ]),
      ),
    );
    times.push(performance.now() - t0);
    bytes = run.bytesSent.get(1);
  }
  return { signMs: stats(times), bytesSentPerParty: bytes };
}

async function endToEnd(api, scheme) {
  const created = await api.wait(
    await api.createKey({ scheme: scheme.name, threshold: 2, parties: 3 }),
    300_000,
  );
  if (created.status !== "succeeded") throw new Error(`DKG failed: ${JSON.stringify(created.error)}`);
  const keyId = created.keyId;
  const sign = async () => {
    const t0 = performance.now();
    const op = await api.wait(await api.sign(keyId, { message: randomBytes(32).toString("hex") }), 60_000);
    if (op.status !== "succeeded") throw new Error(`sign failed: ${JSON.stringify(op.error)}`);
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) await sign(); // warm-up
  const latencies = [];
  for (let i = 0; i < SEQUENTIAL; i++) latencies.push(await sign());
  let next = 0;
  const t0 = performance.now();
  const loaded = [];
  await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      while (next++ < TOTAL) loaded.push(await sign());
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    latencyMs: stats(latencies),
    throughput: {
      inFlight: CONCURRENT,
      total: TOTAL,
      opsPerSecond: TOTAL / seconds,
      latencyMs: stats(loaded),
    },
  };
}

const results = {
  date: new Date().toISOString(),
  machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
  schemes: {},
};
// In-process figures first: the DKLs23 runs keep this thread busy for a while, which would
// otherwise stall the HTTP client's idle connections to the stack.
const local = new Map([ed25519Scheme, bip340Scheme].map((scheme) => [scheme.name, inProcess(scheme)]));
// Threshold ECDSA in process: DKG, sign and refresh (2-of-3; 3-of-5 too with BENCH_FULL=1), beside
// single-key noble ECDSA measured in the same run.
const dkls = await benchDkls23({
  signRuns: Number(process.env.BENCH_DKLS_SIGNS ?? 10),
  configs: process.env.BENCH_FULL
    ? [
        [2, 3],
        [3, 5],
      ]
    : [[2, 3]],
  refresh: true,
});
const dir = mkdtempSync(join(tmpdir(), "custody-bench-"));
const stack = await Stack.start({ dir, parties: 3, workers: 1, output: "files" });
try {
  const api = new CustodyClient(stack.apiUrl, stack.admin);
  for (const scheme of [ed25519Scheme, bip340Scheme]) {
    const e2e = await endToEnd(api, scheme);
    const inProc = local.get(scheme.name);
    results.schemes[scheme.name] = {
      inProcess: inProc,
      endToEnd: e2e,
      ratios: { e2eP50OverInProcessP50: e2e.latencyMs.p50 / inProc.signMs.p50 },
    };
  }
  const e2e = await endToEnd(api, { name: "ecdsa-secp256k1" });
  results.schemes["ecdsa-secp256k1"] = { inProcess: dkls, endToEnd: e2e };
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync("bench-results", { recursive: true });
const file = join("bench-results", `bench-${results.date.replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join("bench-results", "latest.json"), `${JSON.stringify(results, null, 2)}\n`);

console.log(
  `\nCustody benchmark (${results.machine.cpus} cores, node ${results.machine.node}); 2-of-3 keys\n`,
);
console.log(
  "scheme    in-process sign p50   e2e sign p50 / p95      e2e/in-process   throughput (in flight)   bytes/party",
);
for (const [name, r] of Object.entries(results.schemes).filter(([n]) => n !== "ecdsa-secp256k1")) {
  console.log(
    `${name.padEnd(9)} ${`${round(r.inProcess.signMs.p50)} ms`.padEnd(21)} ${`${round(r.endToEnd.latencyMs.p50, 1)} / ${round(r.endToEnd.latencyMs.p95, 1)} ms`.padEnd(23)} ${`${round(r.ratios.e2eP50OverInProcessP50, 1)}x`.padEnd(16)} ${`${round(r.endToEnd.throughput.opsPerSecond, 1)} ops/s (${r.endToEnd.throughput.inFlight})`.padEnd(24)} ${r.inProcess.bytesSentPerParty}`,
  );
}
const ecdsa = results.schemes["ecdsa-secp256k1"];
console.log(
  "\nThreshold ECDSA (DKLs23), in process, all parties on one thread (CPU ms, busiest party in brackets):",
);
const fmt = (t) =>
  t ? `${round(t.cpuMs, 0)} (${round(t.maxPartyCpuMs, 0)}) ms, ${t.bytesPerParty} B/party` : "-";
for (const r of ecdsa.inProcess.results) {
  console.log(`  ${r.t}-of-${r.n}: DKG ${fmt(r.dkg)}; sign ${fmt(r.sign)}; refresh ${fmt(r.refresh)}`);
}
const nobleMs = ecdsa.inProcess.nobleSingleKeySignMs;
const sign23 = ecdsa.inProcess.results[0].sign.cpuMs;
console.log(
  `  single-key noble ECDSA sign, same run: ${nobleMs} ms (2-of-3 threshold sign costs ${round(sign23 / nobleMs, 0)}x)`,
);
console.log(
  `  end to end 2-of-3: p50 ${round(ecdsa.endToEnd.latencyMs.p50, 1)} ms, p95 ${round(ecdsa.endToEnd.latencyMs.p95, 1)} ms, ${round(ecdsa.endToEnd.throughput.opsPerSecond, 1)} ops/s with ${ecdsa.endToEnd.throughput.inFlight} in flight`,
);
console.log(`\nsaved ${file}`);
