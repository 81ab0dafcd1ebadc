/** Test helpers: run DKG / sign / refresh in process with runLocal. */
import { type LocalRunOptions, runLocal, type SignatureOutput } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { ecdsaScheme } from "../src/index.js";
import type { EcdsaShare } from "../src/share.js";

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

export function keygen(t: number, n: number, opts: LocalRunOptions = {}, sessionId = randomBytes(32)) {
  const parties = range(n);
  return runLocal(
    new Map(parties.map((p) => [p, () => ecdsaScheme.keygen({ sessionId, self: p, parties, threshold: t })])),
    opts,
  );
}

export function mustKeygen(t: number, n: number): Map<number, EcdsaShare> {
  const run = keygen(t, n);
  if (run.errors.size > 0 || run.stalled.length > 0)
    throw new Error(`keygen failed: ${[...run.errors.values()]}`);
  return run.results;
}

export function sign(
  shares: ReadonlyMap<number, EcdsaShare>,
  signers: number[],
  message: Uint8Array,
  path?: number[],
  opts: LocalRunOptions = {},
  sessionId = randomBytes(32),
) {
  return runLocal<SignatureOutput>(
    new Map(
      signers.map((p) => [
        p,
        () => ecdsaScheme.sign({ sessionId, self: p, share: shares.get(p)!, signers, message, path }),
      ]),
    ),
    opts,
  );
}

export function refresh(
  shares: ReadonlyMap<number, EcdsaShare>,
  opts: LocalRunOptions = {},
  sessionId = randomBytes(32),
) {
  return runLocal(
    new Map([...shares].map(([p, share]) => [p, () => ecdsaScheme.refresh({ sessionId, self: p, share })])),
    opts,
  );
}
