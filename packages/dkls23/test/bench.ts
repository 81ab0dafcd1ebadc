/**
 * Benchmark of the DKLs23 package: DKG, signing and refresh for 2-of-3 and 3-of-5, run in process
 * (all parties on one thread, so times are the parties' CPU time added up), bytes sent per party,
 * and a single-key noble ECDSA signature measured in the same run for scale.
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { keygen, refresh, sign } from "./run.js";

/** Figures for one (t, n). */
export interface Dkls23Figures {
  readonly t: number;
  readonly n: number;
  readonly dkgMs: number;
  readonly dkgBytesPerParty: number;
  readonly signMs: number;
  readonly signBytesPerParty: number;
  readonly refreshMs: number;
  readonly refreshBytesPerParty: number;
}

const maxBytes = (m: Map<number, number>) => Math.max(...m.values());

function timed<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: Math.round((performance.now() - t0) * 10) / 10, value };
}

function figures(t: number, n: number, signRuns: number): Dkls23Figures {
  const dkg = timed(() => keygen(t, n));
  if (dkg.value.errors.size > 0) throw new Error("benchmark DKG failed");
  const shares = dkg.value.results;
  const signers = Array.from({ length: t }, (_, i) => i + 1);
  sign(shares, signers, sha256(randomBytes(8))); // warm-up
  let signMs = 0;
  let signBytes = 0;
  for (let i = 0; i < signRuns; i++) {
    const s = timed(() => sign(shares, signers, sha256(randomBytes(8))));
    if (s.value.errors.size > 0) throw new Error("benchmark signing failed");
    signMs += s.ms;
    signBytes = maxBytes(s.value.bytesSent);
  }
  const ref = timed(() => refresh(shares));
  if (ref.value.errors.size > 0) throw new Error("benchmark refresh failed");
  return {
    t,
    n,
    dkgMs: dkg.ms,
    dkgBytesPerParty: maxBytes(dkg.value.bytesSent),
    signMs: Math.round((signMs / signRuns) * 10) / 10,
    signBytesPerParty: signBytes,
    refreshMs: ref.ms,
    refreshBytesPerParty: maxBytes(ref.value.bytesSent),
  };
}

/** Runs the benchmark and returns its figures (milliseconds, bytes). */
export async function benchDkls23(): Promise<Record<string, unknown>> {
  const sk = secp256k1.utils.randomSecretKey();
  for (let i = 0; i < 20; i++) secp256k1.sign(sha256(randomBytes(8)), sk, { prehash: false });
  const runs = 50;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) secp256k1.sign(sha256(randomBytes(8)), sk, { prehash: false });
  const nobleSignMs = Math.round(((performance.now() - t0) / runs) * 1000) / 1000;
  return {
    scheme: "ecdsa-secp256k1 (DKLs23)",
    note: "in-process: times add up all parties' CPU; bytes are the most any party sent",
    nobleSingleKeySignMs: nobleSignMs,
    results: [figures(2, 3, 10), figures(3, 5, 5)],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchDkls23(), null, 2));
}
