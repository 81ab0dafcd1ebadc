/**
 * The DKG and refresh hand the base OTs of different counterparties to the context's parallel map
 * as jobs. A map that copies every input and output by structured clone (what crossing to a
 * helper thread does) must give shares that sign, and the scheme must list every job it uses.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { type Job, type ParallelMap, runLocal } from "@custody/core";
import { ecdsaScheme } from "../src/index.js";
import type { EcdsaShare } from "../src/share.js";
import { range, sign } from "./run.js";
import { verifyIndependently } from "./verify.js";

/** Runs jobs as a helper thread would see them (cloned in, cloned out), recording each call. */
function cloningMap(calls: { name: string; inputs: number }[]): ParallelMap {
  return {
    map: <I, O>(job: Job<I, O>, inputs: readonly I[]): O[] => {
      calls.push({ name: job.name, inputs: inputs.length });
      return inputs.map((x) => structuredClone(job.run(structuredClone(x))));
    },
  };
}

const succeeded = <T>(run: { results: Map<number, T>; errors: Map<number, unknown>; stalled: number[] }) => {
  assert.deepEqual([...run.errors.values()], []);
  assert.deepEqual(run.stalled, []);
  return run.results;
};

test("2-of-3 DKG with jobs across a clone boundary: each party maps its two counterparties at once, a refresh too", {
  timeout: 120_000,
}, () => {
  const calls: { name: string; inputs: number }[] = [];
  const parallel = cloningMap(calls);
  const parties = range(3);
  const sessionId = randomBytes(32);
  const shares = succeeded(
    runLocal<EcdsaShare>(
      new Map(
        parties.map((p) => [
          p,
          () => ecdsaScheme.keygen({ sessionId, self: p, parties, threshold: 2, parallel }),
        ]),
      ),
    ),
  );
  const names = ["ecdsa-secp256k1/base-ot-receive", "ecdsa-secp256k1/base-ot-sender-finish"];
  const count = (name: string) => calls.filter((c) => c.name === name && c.inputs === 2).length;
  assert.equal(calls.length, 6);
  assert.deepEqual(names.map(count), [3, 3]);
  assert.deepEqual((ecdsaScheme.jobs ?? []).map((j) => j.name).sort(), names);

  // Shares from the jobs' OT keys sign (the keys of both roles feed the OT extension).
  const message = new TextEncoder().encode("parallel base OTs");
  const digest = createHash("sha256").update(message).digest();
  const signed = succeeded(sign(shares, [1, 3], digest));
  verifyIndependently(signed.get(1)!, message, shares.get(1)!.publicKey);

  // A refresh hands its base OTs to the same map: round 2 starts with one call for both peers.
  const refreshId = randomBytes(32);
  const starts = [...shares].map(([p, share]) =>
    ecdsaScheme.refresh({ sessionId: refreshId, self: p, share, parallel }),
  );
  const r1 = (starts[0] as { round: { receive(m: unknown): void; finalize(): unknown } }).round;
  for (const s of starts.slice(1))
    for (const m of s.outgoing) if (m.to === "all" || m.to === 1) r1.receive(m);
  r1.finalize();
  assert.deepEqual(calls.at(-1), { name: names[0], inputs: 2 });
  assert.equal(calls.length, 7);
});
