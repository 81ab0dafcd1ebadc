/**
 * Checks one scenario's ledger against the server once the load stopped: every accepted request
 * must reach a terminal state (else it is lost), a failure must carry a typed reason, no operation
 * may have two outcomes or two published results from one party or two different signatures, and
 * every signature must verify with an independent verifier. Also measures the recovery time after
 * each injection and whether every key still signs.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { WorkResult } from "@custody/proto";
import type { Operation } from "@custody/sdk";
import { verifyBip340, verifyEd25519 } from "../helpers.js";
import type { PatientClient } from "./client.js";
import type { Ledger, PoolKey } from "./load.js";

/** The figures of one scenario. */
export interface Audit {
  readonly accepted: number;
  readonly succeeded: number;
  /** Failed operations by typed reason. */
  readonly failed: Map<string, number>;
  readonly refused: Map<string, number>;
  readonly lost: string[];
  readonly duplicated: string[];
  readonly invalid: string[];
  /** Seconds from each injection to the first later request that succeeded. */
  readonly recoverySeconds: (number | undefined)[];
  /** Keys that signed (and verified) after the scenario, of those checked. */
  readonly keysUsable: { readonly ok: number; readonly of: number };
}

/** Verifies a signature of `key` over the hex message. */
function verifies(key: Pick<PoolKey, "scheme" | "publicKey">, messageHex: string, signature: string) {
  const m = Buffer.from(messageHex, "hex");
  return key.scheme === "ed25519"
    ? verifyEd25519(key.publicKey, m, signature)
    : verifyBip340(key.publicKey, m, signature);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Waits for every accepted operation to leave `pending` (up to `drainMs`); returns the last view of each. */
export async function drain(client: PatientClient, ledger: Ledger, drainMs: number) {
  const deadline = Date.now() + drainMs;
  const final = new Map<string, Operation | undefined>();
  await Promise.all(
    [...ledger.accepted.keys()].map(async (id) => {
      final.set(id, await client.settle(id, Math.max(1000, deadline - Date.now())));
    }),
  );
  return final;
}

/** Problems with one operation's published results (two per party, or two signatures). */
function duplicateResults(results: readonly WorkResult[]): boolean {
  const parties = results.map((r) => r.party);
  if (new Set(parties).size !== parties.length) return true;
  const signatures = new Set(
    results.flatMap((r) => (r.outcome.case === "signature" ? [hex(r.outcome.value.signature)] : [])),
  );
  return signatures.size > 1;
}

/** Signs once with every key; counts those whose signature verifies. */
export async function keysUsable(client: PatientClient, keys: readonly PoolKey[]) {
  let ok = 0;
  await Promise.all(
    keys.map(async (key) => {
      const message = randomBytes(32).toString("hex");
      const s = await client.submit(`/v1/keys/${key.id}/sign`, { message }, 120_000);
      if (!s.accepted) return;
      const op = await client.settle(s.operation.id, 120_000);
      if (op?.status === "succeeded" && verifies(key, message, op.signature!.signature)) ok++;
    }),
  );
  return { ok, of: keys.length };
}

/** Audits a drained scenario. `results` are every published result by operation id. */
export function audit(
  ledger: Ledger,
  final: Map<string, Operation | undefined>,
  results: Map<string, WorkResult[]>,
  keys: ReadonlyMap<string, PoolKey>,
  usable: { ok: number; of: number },
): Audit {
  const failed = new Map<string, number>();
  const lost: string[] = [];
  const duplicated: string[] = [];
  const invalid: string[] = [];
  let succeeded = 0;
  for (const a of ledger.accepted.values()) {
    const op = final.get(a.id);
    if (!op || op.status === "pending") {
      lost.push(a.id);
      continue;
    }
    const published = results.get(a.id) ?? [];
    if ((a.firstOutcome && a.firstOutcome !== op.status) || duplicateResults(published))
      duplicated.push(a.id);
    if (op.status === "failed") {
      const code = op.error?.code || "untyped";
      failed.set(code, (failed.get(code) ?? 0) + 1);
      continue;
    }
    succeeded++;
    if (a.type !== "sign") continue;
    const key = keys.get(a.keyId);
    const sig = op.signature;
    const published0 = published.find((r) => r.outcome.case === "signature");
    if (
      !key ||
      !sig ||
      sig.publicKey !== key.publicKey ||
      !verifies(key, a.message!, sig.signature) ||
      (published0?.outcome.case === "signature" && hex(published0.outcome.value.signature) !== sig.signature)
    )
      invalid.push(a.id);
  }
  const recoverySeconds = ledger.injections.map((t) => {
    const after = [...final.values()]
      .filter((op) => op?.status === "succeeded" && Date.parse(op.createdAt) >= t)
      .map((op) => Date.parse(op!.updatedAt) - t);
    return after.length > 0 ? Math.min(...after) / 1000 : undefined;
  });
  return {
    accepted: ledger.accepted.size,
    succeeded,
    failed,
    refused: ledger.refused,
    lost,
    duplicated,
    invalid,
    recoverySeconds,
    keysUsable: usable,
  };
}
