// `npm run bench`: the protocols in process (DKG, refresh, sign of every scheme) and the whole stack
// end to end (API + NATS + workers): latency p50/p95 and throughput at 1, 16 and 64 in flight, and
// the CPU every process spends per signature (read from /proc/<pid>/stat before and after), next to
// the in-process protocol CPU measured in the same run (ratios, since these machines are noisy), and
// the broker messages of every process per signature (nats-server /connz).
// Writes bench-results/bench-<time>.json and bench-results/latest.json and prints a summary.
//
// Environment:
//   BENCH_QUICK=1            a short run (fewer signatures, fewer in-process runs)
//   BENCH_WORKERS=1,2,4      the throughput figure with that many workers per party (first = full run)
//   BENCH_BASELINE=<dir>     also runs the end-to-end figures on the build in <dir> (a git worktree of
//                            another commit: scripts/bench-baseline.sh <commit> <dir>), side by side
//   BENCH_SCHEMES=ed25519,…  the schemes to run end to end (default all three)
//   BENCH_PROFILE=<dir>      the stack's node processes write CPU profiles (--cpu-prof) into <dir>
//   BENCH_SEQUENTIAL, BENCH_TOTAL, BENCH_LOCAL, BENCH_DKLS_SIGNS   override the run sizes
//   BENCH_BATCH_SCHEMES=ed25519,…  schemes that also run the batched phase (default ed25519; "" none)
//   BENCH_BATCH=256, BENCH_BATCHES=8   messages per signing batch (capped per scheme), batches per load
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Stack } from "@custody/cli";
import { inline, runLocal } from "@custody/core";
import { ecdsaScheme } from "@custody/dkls23";
import { bip340Scheme, ed25519Scheme } from "@custody/frost";
import { JobThreads } from "@custody/runtime";
import { CustodyClient } from "@custody/sdk";
import { benchDkls23 } from "../packages/dkls23/dist/test/bench.js";

const env = process.env;
const QUICK = Boolean(env.BENCH_QUICK);
const SEQUENTIAL = Number(env.BENCH_SEQUENTIAL ?? (QUICK ? 15 : 40));
const TOTAL = Number(env.BENCH_TOTAL ?? (QUICK ? 64 : 192));
const LOCAL = Number(env.BENCH_LOCAL ?? (QUICK ? 15 : 60));
const LOADS = [16, 64];
const WORKERS = (env.BENCH_WORKERS ?? "1").split(",").map(Number);
const SCHEMES = (env.BENCH_SCHEMES ?? "ed25519,bip340,ecdsa-secp256k1").split(",");
const BATCH_SCHEMES = (env.BENCH_BATCH_SCHEMES ?? "ed25519").split(",").filter(Boolean);
const BATCH = Number(env.BENCH_BATCH ?? 256);
const BATCHES = Number(env.BENCH_BATCHES ?? (QUICK ? 4 : 8));
/** Batches in flight in the batched phase. */
const BATCH_LOADS = [1, 2];
/** Most messages a batch of each scheme holds (the API's bound). */
const MAX_BATCH = { ed25519: 256, bip340: 256, "ecdsa-secp256k1": 32 };
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

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
const round = (x, d = 1) => (x === undefined ? undefined : Math.round(x * 10 ** d) / 10 ** d);
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU (user + system) of a process so far, in ms; undefined once it is gone. */
function cpuOfPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** Every process of a stack (API, each worker, nats-server) and this one (the load generator). */
function processesOf(stack) {
  const out = [...stack.processes.values()].map((p) => [p.name, p.child.pid]);
  stack.broker.servers.forEach((s, i) => {
    out.push([stack.broker.servers.length > 1 ? `nats-server-${i + 1}` : "nats-server", s.pid]);
  });
  return out;
}
const snapshot = (stack) => ({
  at: performance.now(),
  client: cpuNow(),
  procs: new Map(processesOf(stack).map(([name, pid]) => [name, cpuOfPid(pid)])),
});
/** CPU per signature of every process between two snapshots, plus how busy the cores were. */
function cpuPerSignature(before, after, signatures) {
  const perProcess = {};
  let total = 0;
  for (const [name, c0] of before.procs) {
    const c1 = after.procs.get(name);
    if (c0 === undefined || c1 === undefined) continue;
    perProcess[name] = round((c1 - c0) / signatures, 2);
    total += c1 - c0;
  }
  return {
    perProcessMs: perProcess,
    totalMs: round(total / signatures, 2),
    loadGeneratorMs: round((after.client - before.client) / signatures, 2),
    coresBusy: round((total + after.client - before.client) / (after.at - before.at), 2),
  };
}

/**
 * Broker messages so far of every process's connections (nats-server `/connz`: messages it sent
 * to the server plus those the server delivered to it), keyed by process name (a connection's
 * name up to its `@tenant` suffix; the API's revocation-list connections count as the API's).
 */
async function brokerMessages(stack) {
  const out = new Map();
  for (const server of stack.broker.servers) {
    const res = await fetch(`${server.monitorUrl}/connz?limit=10000`);
    for (const c of (await res.json()).connections ?? []) {
      const name = String(c.name ?? "?")
        .split("@")[0]
        .replace(/^api-.*/, "api");
      out.set(name, (out.get(name) ?? 0) + c.in_msgs + c.out_msgs);
    }
  }
  return out;
}

/** Broker messages per signature of every process between two {@link brokerMessages} readings. */
function messagesPerSignature(before, after, signatures) {
  const perProcess = {};
  let total = 0;
  for (const [name, m1] of after) {
    const d = m1 - (before.get(name) ?? 0);
    if (d <= 0) continue;
    perProcess[name] = round(d / signatures, 1);
    total += d;
  }
  return { perProcess, total: round(total / signatures, 1) };
}

// ---------------------------------------------------------------------------------------------
// In process: every party on this thread.

function localRun(start) {
  const run = runLocal(new Map([1, 2, 3].map((p) => [p, () => start(p)])));
  if (run.errors.size > 0 || run.stalled.length > 0)
    throw new Error(`local run failed: ${[...run.errors.values()].join("; ")}`);
  return run;
}
function timedRun(f) {
  const w0 = performance.now();
  const c0 = cpuNow();
  const run = f();
  return { run, wallMs: performance.now() - w0, cpuMs: cpuNow() - c0 };
}

function frostInProcess(scheme) {
  const session = randomBytes(32);
  const dkg = timedRun(() =>
    localRun((self) => scheme.keygen({ sessionId: session, self, parties: [1, 2, 3], threshold: 2 })),
  );
  const refreshSession = randomBytes(32);
  const refresh = timedRun(() =>
    localRun((self) =>
      scheme.refresh({
        sessionId: refreshSession,
        self,
        parties: [1, 2, 3],
        threshold: 2,
        share: dkg.run.results.get(self),
      }),
    ),
  );
  const shares = refresh.run.results;
  const wall = [];
  const cpu = [];
  let bytes = 0;
  for (let i = 0; i < LOCAL; i++) {
    const message = randomBytes(32);
    const sessionId = randomBytes(32);
    const s = timedRun(() =>
      runLocal(
        new Map(
          [1, 2].map((p) => [
            p,
            () => scheme.sign({ sessionId, self: p, share: shares.get(p), signers: [1, 2], message }),
          ]),
        ),
      ),
    );
    wall.push(s.wallMs);
    cpu.push(s.cpuMs);
    bytes = s.run.bytesSent.get(1);
  }
  return {
    dkg: { wallMs: round(dkg.wallMs), cpuMs: round(dkg.cpuMs) },
    refresh: { wallMs: round(refresh.wallMs), cpuMs: round(refresh.cpuMs) },
    sign: { wallMs: stats(wall), cpuMs: stats(cpu), bytesSentPerParty: bytes },
  };
}

/** The in-process sign CPU (all signers) that end-to-end CPU is compared with. */
const protocolCpuMs = (local) => local.sign.cpuMs.mean;

// ---------------------------------------------------------------------------------------------
// End to end.

/** Creates a 2-of-3 key of `schemeName` on a stack; returns a function that signs once with it. */
async function prepare(stack, schemeName) {
  const api = new CustodyClient(stack.apiUrl, stack.admin);
  const t0 = performance.now();
  const created = await api.wait(
    await api.createKey({ scheme: schemeName, threshold: 2, parties: 3 }),
    300_000,
  );
  if (created.status !== "succeeded") throw new Error(`DKG failed: ${JSON.stringify(created.error)}`);
  const dkgMs = performance.now() - t0;
  const sign = async () => {
    const s0 = performance.now();
    const op = await api.wait(
      await api.sign(created.keyId, { message: randomBytes(32).toString("hex") }, { waitSeconds: 60 }),
      120_000,
    );
    if (op.status !== "succeeded") throw new Error(`sign failed: ${JSON.stringify(op.error)}`);
    return performance.now() - s0;
  };
  for (let i = 0; i < 3; i++) await sign(); // warm-up
  /** One signing batch of `size` messages (one request, one operation); resolves to its latency. */
  const signBatch = async (size) => {
    const s0 = performance.now();
    const messages = Array.from({ length: size }, () => ({ message: randomBytes(32).toString("hex") }));
    const op = await api.wait(await api.signBatch(created.keyId, { messages }, { waitSeconds: 60 }), 300_000);
    if (op.status !== "succeeded") throw new Error(`batch failed: ${JSON.stringify(op.error)}`);
    if (op.signatures?.length !== size) throw new Error("batch without every signature");
    return performance.now() - s0;
  };
  return { dkgMs: round(dkgMs), sign, signBatch };
}

/**
 * `batches` signing batches of `size` messages, `inFlight` at a time: signatures per second,
 * latency per batch and CPU per signature of every process.
 */
async function batchPhase(stack, signBatch, inFlight, batches, size) {
  await signBatch(size); // warm-up
  const before = snapshot(stack);
  const latencies = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < batches) latencies.push(await signBatch(size));
    }),
  );
  const after = snapshot(stack);
  return {
    inFlight,
    batches,
    size,
    signaturesPerSecond: round((batches * size * 1000) / (after.at - before.at), 2),
    batchLatencyMs: stats(latencies),
    cpuPerSignature: cpuPerSignature(before, after, batches * size),
  };
}

/** `total` signatures, `inFlight` at a time: throughput, latency and CPU per signature of every process. */
async function phase(stack, sign, inFlight, total) {
  const messagesBefore = await brokerMessages(stack);
  const before = snapshot(stack);
  const latencies = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < total) latencies.push(await sign());
    }),
  );
  const after = snapshot(stack);
  const messagesAfter = await brokerMessages(stack);
  return {
    inFlight,
    total,
    opsPerSecond: round((total * 1000) / (after.at - before.at), 2),
    latencyMs: stats(latencies),
    cpuPerSignature: cpuPerSignature(before, after, total),
    brokerMessagesPerSignature: messagesPerSignature(messagesBefore, messagesAfter, total),
  };
}

/** CPU the idle stack spends per second (heartbeats, timers, JetStream housekeeping), all processes. */
async function idleCpu(stack, ms = QUICK ? 2000 : 5000) {
  const before = snapshot(stack);
  await new Promise((r) => setTimeout(r, ms));
  const after = snapshot(stack);
  const r = cpuPerSignature(before, after, 1);
  return { msPerSecond: round((r.totalMs * 1000) / (after.at - before.at), 1), perProcessMs: r.perProcessMs };
}

/**
 * A preload module that profiles the process it is loaded into (Node 20 refuses `--cpu-prof` in
 * NODE_OPTIONS) and writes `<pid>-<argv>.cpuprofile` into BENCH_PROFILE/<label> when it exits.
 */
function profiler(label) {
  const dir = resolve(env.BENCH_PROFILE, label);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "profiler.mjs");
  writeFileSync(
    file,
    `import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
const session = new Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: 500 });
session.post("Profiler.start");
let saved = false;
const save = () => {
  if (saved) return;
  saved = true;
  session.post("Profiler.stop", (err, r) => {
    if (err) return;
    const name = process.argv.slice(2, 5).join("-").replace(/[^A-Za-z0-9-]/g, "");
    writeFileSync(${JSON.stringify(dir)} + "/" + process.pid + "-" + name + ".cpuprofile", JSON.stringify(r.profile));
  });
};
// On SIGTERM already: the process may be killed before it exits on its own.
process.on("SIGTERM", save);
process.on("exit", save);
`,
  );
  return file;
}

async function startStack(StackClass, workers, label) {
  const dir = mkdtempSync(join(tmpdir(), "custody-bench-"));
  const profileEnv = env.BENCH_PROFILE ? { NODE_OPTIONS: `--import=${profiler(label)}` } : {};
  // The load generator signs as one credential: lift the API's per-credential signing rate (50
  // messages per second by default), which would otherwise cap the batched phase.
  const unlimited = { CUSTODY_API_SIGN_RATE: "1000000", CUSTODY_API_SIGN_BURST: "1000000" };
  const stack = await StackClass.start({
    dir,
    parties: 3,
    workers,
    output: "files",
    env: { ...unlimited, ...profileEnv },
  });
  return {
    stack,
    stop: async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs every scheme on the stacks of `builds` (label → Stack class) side by side: each phase runs
 * on one build, then on the next, so a change in the machine's load hits every build alike.
 */
async function endToEnd(builds, workers, full) {
  const stacks = [];
  try {
    for (const [label, StackClass] of builds)
      stacks.push([label, await startStack(StackClass, workers, label)]);
    const out = Object.fromEntries(builds.map(([label]) => [label, {}]));
    const idle = {};
    for (const [label, { stack }] of stacks) idle[label] = await idleCpu(stack);
    for (const name of SCHEMES) {
      const prepared = [];
      for (const [label, { stack }] of stacks) {
        const p = await prepare(stack, name);
        out[label][name] = { dkgMs: p.dkgMs, phases: [] };
        prepared.push([label, stack, p.sign, p.signBatch]);
      }
      const loads = full ? [[1, SEQUENTIAL], ...LOADS.map((l) => [l, TOTAL])] : LOADS.map((l) => [l, TOTAL]);
      for (const [inFlight, total] of loads)
        for (const [label, stack, sign] of prepared) {
          const r = await phase(stack, sign, inFlight, total);
          // The part of it that is not background: minus what the idle stack spends in that time.
          r.cpuPerSignature.netOfIdleMs = round(
            r.cpuPerSignature.totalMs - idle[label].msPerSecond / r.opsPerSecond,
            2,
          );
          out[label][name].phases.push(r);
          console.error(
            `  [${label}, ${workers} worker(s)/party] ${name} @${inFlight}: ${r.opsPerSecond} ops/s, p50 ${round(r.latencyMs.p50)} ms, ${r.cpuPerSignature.totalMs} ms CPU/sig`,
          );
        }
      // Batched: the same stack, key and run, one request per `size` signatures. Only the current
      // build, at the first worker count (a baseline build may predate batches).
      if (full && BATCH_SCHEMES.includes(name)) {
        const size = Math.min(BATCH, MAX_BATCH[name]);
        const [label, stack, , signBatch] = prepared[0];
        out[label][name].batched = [];
        for (const inFlight of BATCH_LOADS) {
          const r = await batchPhase(stack, signBatch, inFlight, BATCHES, size);
          out[label][name].batched.push(r);
          console.error(
            `  [${label}, ${workers} worker(s)/party] ${name} batches of ${size} @${inFlight}: ${r.signaturesPerSecond} signatures/s, batch p50 ${round(r.batchLatencyMs.p50)} ms, ${r.cpuPerSignature.totalMs} ms CPU/sig`,
          );
        }
      }
    }
    for (const [label] of stacks) out[label].idleCpu = idle[label];
    return out;
  } finally {
    for (const [, s] of stacks) await s.stop();
  }
}

// ---------------------------------------------------------------------------------------------

const results = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version, openssl: process.versions.openssl },
  settings: {
    quick: QUICK,
    sequential: SEQUENTIAL,
    totalPerLoad: TOTAL,
    loads: [1, ...LOADS],
    workers: WORKERS,
  },
  inProcess: {},
  endToEnd: {},
};
// In-process figures first: the DKLs23 runs keep this thread busy for a while, which would
// otherwise stall the HTTP client's idle connections to the stack.
console.error("in process: FROST (ed25519, bip340)");
for (const scheme of [ed25519Scheme, bip340Scheme]) results.inProcess[scheme.name] = frostInProcess(scheme);
console.error("in process: DKLs23 (ecdsa-secp256k1)");
const dkls = await benchDkls23({
  signRuns: Number(env.BENCH_DKLS_SIGNS ?? (QUICK ? 3 : 10)),
  configs: env.BENCH_FULL
    ? [
        [2, 3],
        [3, 5],
      ]
    : [[2, 3]],
  refresh: true,
});
const d23 = dkls.results[0];
results.inProcess["ecdsa-secp256k1"] = {
  dkg: { cpuMs: round(d23.dkg.cpuMs), busiestPartyCpuMs: round(d23.dkg.maxPartyCpuMs) },
  refresh: { cpuMs: round(d23.refresh.cpuMs), busiestPartyCpuMs: round(d23.refresh.maxPartyCpuMs) },
  sign: {
    wallMs: { mean: d23.sign.wallMs },
    cpuMs: { mean: d23.sign.cpuMs },
    busiestPartyCpuMs: d23.sign.maxPartyCpuMs,
    bytesSentPerParty: d23.sign.bytesPerParty,
  },
  all: dkls,
};

// One party's base OTs with different counterparties in parallel job threads (what a worker does
// with --job-threads): all parties still run on this thread one after the other, so the wall time
// shows how much faster one party's rounds get with helpers; the process CPU counts the helpers too.
console.error("in process: DKLs23 DKG with job threads");
const JOB_SCRIPT = new URL("../apps/worker/dist/src/job-thread.js", import.meta.url);
async function dkgWithJobs(n, helpers, runs) {
  const parties = Array.from({ length: n }, (_, i) => i + 1);
  const threads = new JobThreads(JOB_SCRIPT, helpers);
  const dkg = (parallel) => {
    const sessionId = randomBytes(32);
    const run = runLocal(
      new Map(
        parties.map((p) => [
          p,
          () => ecdsaScheme.keygen({ sessionId, self: p, parties, threshold: 2, parallel }),
        ]),
      ),
    );
    if (run.errors.size > 0 || run.stalled.length > 0) throw new Error("DKG with job threads failed");
  };
  dkg(threads); // starts the helpers and warms them up
  const inlineRuns = [];
  const threadRuns = [];
  for (let i = 0; i < runs; i++) {
    // Alternated, so drifting load hits both alike.
    inlineRuns.push(timedRun(() => dkg(inline)));
    threadRuns.push(timedRun(() => dkg(threads)));
  }
  await threads.close();
  const mean = (xs, k) => xs.reduce((a, r) => a + r[k], 0) / xs.length;
  const fig = (xs) => ({ wallMs: round(mean(xs, "wallMs")), cpuMs: round(mean(xs, "cpuMs")) });
  const a = fig(inlineRuns);
  const b = fig(threadRuns);
  return {
    parties: n,
    helpers,
    runs,
    inline: a,
    jobThreads: b,
    wallRatio: round(b.wallMs / a.wallMs, 2),
    cpuRatio: round(b.cpuMs / a.cpuMs, 2),
  };
}
results.dkgJobThreads = [await dkgWithJobs(3, 1, QUICK ? 1 : 2)];
if (env.BENCH_FULL) results.dkgJobThreads.push(await dkgWithJobs(5, 3, 1));

const builds = [["current", Stack]];
if (env.BENCH_BASELINE) {
  const base = resolve(env.BENCH_BASELINE);
  // The baseline's processes must run the baseline's own workspace packages: a `node_modules`
  // symlinked whole from this checkout resolves `@custody/*` to this build instead.
  const fromBase = createRequire(join(base, "apps/cli/package.json"));
  for (const pkg of ["@custody/api", "@custody/worker", "@custody/runtime", "@custody/frost"]) {
    const at = realpathSync(fromBase.resolve(pkg));
    if (!at.startsWith(`${realpathSync(base)}/`))
      throw new Error(
        `BENCH_BASELINE: ${pkg} resolves to ${at}, outside ${base}; prepare it with scripts/bench-baseline.sh`,
      );
  }
  const mod = await import(pathToFileURL(join(base, "apps/cli/dist/src/index.js")).href);
  let commit = "";
  try {
    commit = execFileSync("git", ["-C", base, "rev-parse", "--short", "HEAD"]).toString().trim();
  } catch {}
  results.baseline = { dir: base, commit };
  builds.push(["baseline", mod.Stack]);
}
for (const label of builds.map(([l]) => l)) results.endToEnd[label] = {};
for (const [i, workers] of WORKERS.entries()) {
  // The baseline is compared at the first worker count; further counts measure throughput only.
  const these = i === 0 ? builds : builds.slice(0, 1);
  console.error(`end to end: ${these.map(([l]) => l).join(" and ")}, ${workers} worker(s) per party`);
  const out = await endToEnd(these, workers, i === 0);
  for (const [label, perScheme] of Object.entries(out))
    results.endToEnd[label][`workers${workers}`] = perScheme;
}

// Ratios: end-to-end CPU per signature over the in-process protocol CPU, and current over baseline.
const w0 = `workers${WORKERS[0]}`;
results.summary = {};
for (const name of SCHEMES) {
  const cur = results.endToEnd.current[w0][name];
  const seq = cur.phases.find((p) => p.inFlight === 1);
  const proto = protocolCpuMs(results.inProcess[name]);
  const row = {
    inProcessSignCpuMs: round(proto, 2),
    e2eP50Ms: round(seq.latencyMs.p50),
    e2eP95Ms: round(seq.latencyMs.p95),
    cpuPerSignatureMs: seq.cpuPerSignature.totalMs,
    cpuOverProtocol: round(seq.cpuPerSignature.totalMs / proto, 2),
    cpuPerSignatureNetOfIdleMs: seq.cpuPerSignature.netOfIdleMs,
    loaded64: {
      cpuPerSignatureMs: cur.phases.at(-1).cpuPerSignature.totalMs,
      cpuOverProtocol: round(cur.phases.at(-1).cpuPerSignature.totalMs / proto, 2),
    },
    opsPerSecond: Object.fromEntries(cur.phases.map((p) => [p.inFlight, p.opsPerSecond])),
    dkgMs: cur.dkgMs,
  };
  if (cur.batched) {
    // Batched against unbatched in the same run: the best of each (unbatched at any load).
    const unbatched = Math.max(...cur.phases.map((p) => p.opsPerSecond));
    const batched = Math.max(...cur.batched.map((p) => p.signaturesPerSecond));
    row.batched = {
      size: cur.batched[0].size,
      signaturesPerSecond: Object.fromEntries(cur.batched.map((p) => [p.inFlight, p.signaturesPerSecond])),
      cpuPerSignatureMs: Object.fromEntries(cur.batched.map((p) => [p.inFlight, p.cpuPerSignature.totalMs])),
      bestUnbatchedOpsPerSecond: unbatched,
      ratio: round(batched / unbatched, 2),
    };
  }
  const base = results.endToEnd.baseline?.[w0]?.[name];
  if (base) {
    const bseq = base.phases.find((p) => p.inFlight === 1);
    row.baseline = {
      e2eP50Ms: round(bseq.latencyMs.p50),
      cpuPerSignatureMs: bseq.cpuPerSignature.totalMs,
      cpuPerSignatureAt64Ms: base.phases.at(-1).cpuPerSignature.totalMs,
      opsPerSecond: Object.fromEntries(base.phases.map((p) => [p.inFlight, p.opsPerSecond])),
    };
    row.currentOverBaseline = {
      p50: round(seq.latencyMs.p50 / bseq.latencyMs.p50, 2),
      cpuPerSignature: round(seq.cpuPerSignature.totalMs / bseq.cpuPerSignature.totalMs, 2),
      cpuPerSignatureAt64: round(
        cur.phases.at(-1).cpuPerSignature.totalMs / base.phases.at(-1).cpuPerSignature.totalMs,
        2,
      ),
      opsPerSecond64: round(cur.phases.at(-1).opsPerSecond / base.phases.at(-1).opsPerSecond, 2),
    };
  }
  results.summary[name] = row;
}

mkdirSync("bench-results", { recursive: true });
const file = join("bench-results", `bench-${results.date.replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join("bench-results", "latest.json"), `${JSON.stringify(results, null, 2)}\n`);

// ---------------------------------------------------------------------------------------------
// Readable summary.

const table = (head, rows) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? "-").length)));
  const line = (r) => r.map((c, i) => String(c ?? "-").padEnd(widths[i])).join("  ");
  console.log(line(head));
  for (const r of rows) console.log(line(r));
};
const m = results.machine;
console.log(`\nCustody benchmark (${m.cpus} cores, node ${m.node}, OpenSSL ${m.openssl}); 2-of-3 keys\n`);
console.log("In process, all parties on one thread (CPU ms; ECDSA: busiest party in brackets):");
table(
  ["scheme", "DKG", "refresh", "sign CPU", "sign wall", "bytes/party (sign)"],
  Object.entries(results.inProcess).map(([name, r]) => [
    name,
    `${round(r.dkg.cpuMs, 0)}${r.dkg.busiestPartyCpuMs ? ` (${round(r.dkg.busiestPartyCpuMs, 0)})` : ""}`,
    `${round(r.refresh.cpuMs, 0)}${r.refresh.busiestPartyCpuMs ? ` (${round(r.refresh.busiestPartyCpuMs, 0)})` : ""}`,
    `${round(r.sign.cpuMs.mean)}${r.sign.busiestPartyCpuMs ? ` (${round(r.sign.busiestPartyCpuMs)})` : ""}`,
    round(r.sign.wallMs.mean),
    r.sign.bytesSentPerParty,
  ]),
);
console.log(
  `  single-key noble ECDSA sign, same run: ${results.inProcess["ecdsa-secp256k1"].all.nobleSingleKeySignMs} ms`,
);
console.log("\nECDSA DKG in process, each party's base OTs inline or in job threads (same run, alternated):");
table(
  ["parties", "helpers", "inline wall / CPU ms", "job threads wall / CPU ms", "wall ratio", "CPU ratio"],
  results.dkgJobThreads.map((r) => [
    r.parties,
    r.helpers,
    `${r.inline.wallMs} / ${r.inline.cpuMs}`,
    `${r.jobThreads.wallMs} / ${r.jobThreads.cpuMs}`,
    r.wallRatio,
    r.cpuRatio,
  ]),
);
for (const [label] of builds) {
  for (const [wk, perScheme] of Object.entries(results.endToEnd[label])) {
    const idle = perScheme.idleCpu;
    console.log(
      `\nEnd to end, ${label} build, ${wk.slice(7)} worker(s) per party (idle stack: ${idle.msPerSecond} ms CPU/s):`,
    );
    table(
      [
        "scheme",
        "in flight",
        "ops/s",
        "p50 ms",
        "p95 ms",
        "CPU ms/sig (all)",
        "net of idle",
        "per process",
        "load gen",
        "cores busy",
        "broker msgs/sig (api, parties)",
      ],
      Object.entries(perScheme).flatMap(([name, r]) =>
        (r.phases ?? []).map((p) => [
          name,
          p.inFlight,
          p.opsPerSecond,
          round(p.latencyMs.p50),
          round(p.latencyMs.p95),
          p.cpuPerSignature.totalMs,
          p.cpuPerSignature.netOfIdleMs,
          Object.entries(p.cpuPerSignature.perProcessMs)
            .map(([k, v]) => `${k.replace("party", "p")} ${round(v)}`)
            .join(", "),
          p.cpuPerSignature.loadGeneratorMs,
          p.cpuPerSignature.coresBusy,
          brokerColumn(p.brokerMessagesPerSignature),
        ]),
      ),
    );
  }
}
/** `total (api N, parties N)` of a phase's broker messages per signature. */
function brokerColumn(m) {
  if (!m) return "-";
  const parties = Object.entries(m.perProcess)
    .filter(([k]) => k.startsWith("party"))
    .reduce((sum, [, v]) => sum + v, 0);
  return `${m.total} (api ${m.perProcess.api ?? 0}, parties ${round(parties)})`;
}
console.log(
  "\nPer signature, against the in-process protocol CPU (all signers, one thread), and the baseline:",
);
table(
  [
    "scheme",
    "protocol CPU",
    "CPU @1 (net of idle)",
    "ratio @1",
    "CPU @64",
    "ratio @64",
    "p50 @1",
    "ops/s @1/16/64",
    "baseline p50",
    "baseline CPU @1/@64",
    "cur/base CPU @1/@64",
    "cur/base ops@64",
  ],
  Object.entries(results.summary).map(([name, r]) => [
    name,
    r.inProcessSignCpuMs,
    `${r.cpuPerSignatureMs} (${r.cpuPerSignatureNetOfIdleMs})`,
    `${r.cpuOverProtocol}x`,
    r.loaded64.cpuPerSignatureMs,
    `${r.loaded64.cpuOverProtocol}x`,
    r.e2eP50Ms,
    Object.values(r.opsPerSecond).join(" / "),
    r.baseline?.e2eP50Ms,
    r.baseline && `${r.baseline.cpuPerSignatureMs} / ${r.baseline.cpuPerSignatureAt64Ms}`,
    r.currentOverBaseline &&
      `${r.currentOverBaseline.cpuPerSignature} / ${r.currentOverBaseline.cpuPerSignatureAt64}`,
    r.currentOverBaseline?.opsPerSecond64,
  ]),
);
const batchedRows = Object.entries(results.summary).filter(([, r]) => r.batched);
if (batchedRows.length > 0) {
  console.log("\nBatched signing (one request and one session per batch) against unbatched, same run:");
  table(
    ["scheme", "batch", "signatures/s @1/@2 batches", "CPU ms/sig @1/@2", "best unbatched ops/s", "ratio"],
    batchedRows.map(([name, r]) => [
      name,
      r.batched.size,
      Object.values(r.batched.signaturesPerSecond).join(" / "),
      Object.values(r.batched.cpuPerSignatureMs).join(" / "),
      r.batched.bestUnbatchedOpsPerSecond,
      `${r.batched.ratio}x`,
    ]),
  );
}
console.log(`\nsaved ${file}`);
