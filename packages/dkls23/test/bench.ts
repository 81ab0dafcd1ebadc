/**
 * Benchmark of the DKLs23 package: DKG, signing and refresh, run in process (all parties on one
 * thread). Reports, per operation, the wall time, the CPU time of the process (all parties added
 * up; less sensitive to other load on the machine than wall time) and the largest CPU time of a
 * single party (what one party's worker spends when parties run on separate machines), plus the
 * bytes sent per party and a single-key noble ECDSA signature for scale.
 *
 * Usage: `node packages/dkls23/dist/test/bench.js [signRuns] [configs] [norefresh]`, e.g.
 * `node …/bench.js 3 2of3` for a quick run; defaults: 10 signing runs, configs 2of3,3of5, refresh.
 * @module
 */
import type { LocalRun, LocalRunOptions, ProtocolMessage } from "@custody/core";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { keygen, refresh, sign } from "./run.js";

/** Timing of one operation (milliseconds). */
export interface Timing {
  /** Wall time of the in-process run (all parties). */
  readonly wallMs: number;
  /** Process CPU time (user + system) of the run: all parties together. */
  readonly cpuMs: number;
  /** The most CPU any single party spent handling its messages. */
  readonly maxPartyCpuMs: number;
  /** Largest number of payload bytes any party sent. */
  readonly bytesPerParty: number;
}

/** Figures for one (t, n). */
export interface Dkls23Figures {
  readonly t: number;
  readonly n: number;
  readonly dkg: Timing;
  /** Mean over the signing runs. */
  readonly sign: Timing;
  readonly refresh?: Timing;
}

/** Benchmark parameters (all optional). */
export interface BenchOptions {
  /** Signing runs per configuration (after one warm-up), default 10. */
  readonly signRuns?: number;
  /** (t, n) configurations, default [[2, 3], [3, 5]]. */
  readonly configs?: readonly (readonly [number, number])[];
  /** Also time a refresh, default true. */
  readonly refresh?: boolean;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Runs `f` with a tamper hook that attributes CPU time to the receiving party: runLocal calls the
 * hook right before delivering a message, so the time until the next call belongs to that party.
 * (Each party's cheap first-round `start` is not attributed.)
 */
function timed<T>(f: (opts: LocalRunOptions) => LocalRun<T>): { timing: Timing; run: LocalRun<T> } {
  const perParty = new Map<number, number>();
  let current: { party: number; since: number } | undefined;
  const close = () => {
    if (current) perParty.set(current.party, (perParty.get(current.party) ?? 0) + cpuNow() - current.since);
    current = undefined;
  };
  const tamper = (m: ProtocolMessage, to: number) => {
    close();
    current = { party: to, since: cpuNow() };
    return m;
  };
  const w0 = performance.now();
  const c0 = cpuNow();
  const run = f({ tamper });
  close();
  const cpuMs = cpuNow() - c0;
  const wallMs = performance.now() - w0;
  if (run.errors.size > 0 || run.stalled.length > 0)
    throw new Error(`benchmark run failed: ${[...run.errors.values()]}`);
  return {
    run,
    timing: {
      wallMs: round1(wallMs),
      cpuMs: round1(cpuMs),
      maxPartyCpuMs: round1(Math.max(0, ...perParty.values())),
      bytesPerParty: Math.max(...run.bytesSent.values()),
    },
  };
}

function mean(ts: Timing[]): Timing {
  const avg = (k: keyof Timing) => round1(ts.reduce((a, t) => a + t[k], 0) / ts.length);
  return {
    wallMs: avg("wallMs"),
    cpuMs: avg("cpuMs"),
    maxPartyCpuMs: avg("maxPartyCpuMs"),
    bytesPerParty: Math.max(...ts.map((t) => t.bytesPerParty)),
  };
}

function figures(t: number, n: number, signRuns: number, withRefresh: boolean): Dkls23Figures {
  const dkg = timed((o) => keygen(t, n, o));
  const shares = dkg.run.results;
  const signers = Array.from({ length: t }, (_, i) => i + 1);
  sign(shares, signers, sha256(randomBytes(8))); // warm-up
  const signs: Timing[] = [];
  for (let i = 0; i < signRuns; i++)
    signs.push(timed((o) => sign(shares, signers, sha256(randomBytes(8)), undefined, o)).timing);
  const ref = withRefresh ? timed((o) => refresh(shares, o)).timing : undefined;
  return { t, n, dkg: dkg.timing, sign: mean(signs), ...(ref ? { refresh: ref } : {}) };
}

/** Runs the benchmark and returns its figures (milliseconds, bytes). */
export async function benchDkls23(opts: BenchOptions = {}): Promise<Record<string, unknown>> {
  const signRuns = opts.signRuns ?? 10;
  const configs = opts.configs ?? [
    [2, 3],
    [3, 5],
  ];
  const sk = secp256k1.utils.randomSecretKey();
  for (let i = 0; i < 20; i++) secp256k1.sign(sha256(randomBytes(8)), sk, { prehash: false });
  const runs = 50;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) secp256k1.sign(sha256(randomBytes(8)), sk, { prehash: false });
  const nobleSignMs = Math.round(((performance.now() - t0) / runs) * 1000) / 1000;
  return {
    scheme: "ecdsa-secp256k1 (DKLs23)",
    note: "in-process: wall/cpu add up all parties; maxPartyCpuMs is the busiest party; bytes are the most any party sent",
    nobleSingleKeySignMs: nobleSignMs,
    results: configs.map(([t, n]) => figures(t, n, signRuns, opts.refresh ?? true)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const signRuns = process.argv[2] ? Number(process.argv[2]) : undefined;
  const configs = process.argv[3]?.split(",").map((c) => c.split("of").map(Number) as [number, number]);
  const withRefresh = process.argv[4] !== "norefresh";
  console.log(JSON.stringify(await benchDkls23({ signRuns, configs, refresh: withRefresh }), null, 2));
}
