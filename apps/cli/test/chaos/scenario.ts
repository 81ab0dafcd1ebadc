/**
 * Runs one fault-injection scenario: steady load starts, the fault is injected several times with
 * a pause after each, the load stops, every accepted request is followed to its end, and the
 * audit turns the ledger into one row of figures.
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Stack } from "../../src/index.js";
import { publishedResults } from "../broker.js";
import { type Audit, audit, drain, keysUsable } from "./audit.js";
import type { PatientClient } from "./client.js";
import { Ledger, type Load, type PoolKey } from "./load.js";

/** What a scenario's injections can use. */
export interface ChaosContext {
  readonly stack: Stack;
  readonly admin: NatsConnection;
  readonly client: PatientClient;
  readonly load: Load;
  /** Keys the load signs and refreshes. */
  readonly keys: readonly PoolKey[];
}

/** One kind of fault. */
export interface Scenario {
  readonly name: string;
  /** How often the fault is injected. */
  readonly injections: number;
  /** Load without faults after each injection returned (ms). */
  readonly gapMs: number;
  /** Injects the `i`-th fault; returns once it is over, optionally with a note for the report. */
  inject(ctx: ChaosContext, i: number, ledger: Ledger): Promise<string | undefined>;
}

/** One row of the reliability table. */
export interface Row {
  readonly scenario: string;
  readonly injections: number;
  readonly audit: Audit;
  readonly notes: string[];
  /** Seconds the load ran. */
  readonly loadSeconds: number;
  /** Seconds the whole scenario took (load, drain and audit). */
  readonly seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `s` under load and audits it. */
export async function runScenario(ctx: ChaosContext, s: Scenario, drainMs: number): Promise<Row> {
  const started = Date.now();
  const ledger = new Ledger();
  const notes: string[] = [];
  ctx.load.start(ledger);
  await sleep(3000);
  for (let i = 0; i < s.injections; i++) {
    ledger.injections.push(Date.now());
    const note = await s.inject(ctx, i, ledger);
    if (note) notes.push(note);
    await sleep(s.gapMs);
  }
  await ctx.load.stop();
  const loadSeconds = (Date.now() - started) / 1000;
  await ctx.stack.waitReady(undefined, 60_000);
  const final = await drain(ctx.client, ledger, drainMs);
  const keys = new Map(ctx.keys.map((k) => [k.id, k]));
  const created = [...final.values()].filter((op) => op?.type === "dkg" && op.status === "succeeded");
  const newKeys = (await Promise.all(created.map((op) => ctx.client.key(op!.keyId)))).flatMap((k) =>
    k?.publicKey ? [{ id: k.id, scheme: k.scheme as PoolKey["scheme"], publicKey: k.publicKey }] : [],
  );
  const usable = await keysUsable(ctx.client, [...ctx.keys, ...newKeys]);
  const results = await publishedResults(ctx.admin);
  return {
    scenario: s.name,
    injections: s.injections,
    audit: audit(ledger, final, results, keys, usable),
    notes,
    loadSeconds,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
