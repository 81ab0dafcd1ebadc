/**
 * Steady load for fault injection: virtual users that each submit a DKG, sign or refresh request
 * (through the patient client), follow it to its end, and record what they were told in a ledger
 * that the audit later checks against the server's records and the published results.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { Operation } from "@custody/sdk";
import type { PatientClient } from "./client.js";

/** A key requests are made against. */
export interface PoolKey {
  readonly id: string;
  readonly scheme: "ed25519" | "bip340";
  readonly publicKey: string;
}

/** One accepted request as the client saw it. */
export interface Accepted {
  readonly id: string;
  readonly type: Operation["type"];
  readonly keyId: string;
  /** Hex message of a sign request. */
  readonly message?: string;
  /** Status of the first terminal answer the client got, if it waited long enough. */
  firstOutcome?: Operation["status"];
}

/** Everything one scenario's clients did. */
export class Ledger {
  readonly accepted = new Map<string, Accepted>();
  readonly refused = new Map<string, number>();
  readonly injections: number[] = [];

  /** Counts a refusal by problem code. */
  refuse(code: string): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }
}

/** Shares of each request kind (they need not sum to 1). */
export interface Mix {
  readonly sign: number;
  readonly refresh: number;
  readonly dkg: number;
}

/** Options of a load. */
export interface LoadOptions {
  readonly client: PatientClient;
  readonly keys: PoolKey[];
  readonly users: number;
  readonly mix?: Mix;
  /** Pause of a user between requests (ms). */
  readonly thinkMs?: number;
  /** How long a user follows its request before moving on (the audit waits for the rest). */
  readonly followMs?: number;
}

const pick = <T>(xs: readonly T[]): T => xs[randomBytes(4).readUInt32BE(0) % xs.length]!;

/** Virtual users issuing requests until stopped. */
export class Load {
  private stopped = true;
  private users: Promise<void>[] = [];
  private ledger = new Ledger();

  constructor(private readonly o: LoadOptions) {}

  /** Starts the users, recording into `ledger`. */
  start(ledger: Ledger): void {
    this.ledger = ledger;
    this.stopped = false;
    this.users = Array.from({ length: this.o.users }, () => this.user());
  }

  /** Stops issuing requests; resolves once every user stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.users);
  }

  private kind(): keyof Mix {
    const mix = this.o.mix ?? { sign: 0.8, refresh: 0.1, dkg: 0.1 };
    let r = Math.random() * (mix.sign + mix.refresh + mix.dkg);
    for (const k of ["sign", "refresh", "dkg"] as const) {
      r -= mix[k];
      if (r < 0) return k;
    }
    return "sign";
  }

  private async user(): Promise<void> {
    while (!this.stopped) {
      await this.one(this.kind());
      await new Promise((r) => setTimeout(r, this.o.thinkMs ?? 100));
    }
  }

  private async one(kind: keyof Mix): Promise<void> {
    const { client } = this.o;
    const key = pick(this.o.keys);
    let request: { path: string; body?: unknown; message?: string };
    if (kind === "dkg") {
      const scheme = pick(["ed25519", "bip340"] as const);
      request = { path: "/v1/keys", body: { scheme, threshold: 2, parties: 3, label: "chaos" } };
    } else if (kind === "refresh") {
      request = { path: `/v1/keys/${key.id}/refresh` };
    } else {
      const message = randomBytes(32).toString("hex");
      request = { path: `/v1/keys/${key.id}/sign`, body: { message }, message };
    }
    const submitted = await client.submit(request.path, request.body);
    if (!submitted.accepted) return this.ledger.refuse(submitted.code);
    const op = submitted.operation;
    const entry: Accepted = { id: op.id, type: op.type, keyId: op.keyId, message: request.message };
    this.ledger.accepted.set(op.id, entry);
    const done = await client.settle(op.id, this.o.followMs ?? 30_000, () => this.stopped);
    if (done && done.status !== "pending") entry.firstOutcome = done.status;
  }
}
