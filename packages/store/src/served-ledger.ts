/**
 * A party's ledger of the client requests it served, in its own bucket (the API cannot write it;
 * entries expire after longer than a request is accepted at all). A request is claimed by the
 * first operation that uses it, with the server's create-only semantics, and marked served once
 * the party contributed its result: a replay under another operation, or of a served one, is refused.
 * @module
 */
import { servedBucket } from "@custody/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** A replayed client request: already claimed by another operation, or already served. */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
}

interface Served {
  readonly op: string;
  readonly done: boolean;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const decode = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as Served;
const encode = (s: Served) => new TextEncoder().encode(JSON.stringify(s));

/** Claims and settles client requests for one party. */
export class ServedLedger {
  private constructor(private readonly kv: KV) {}

  /** Opens the party's (already provisioned) served-request bucket. */
  static async open(nc: NatsConnection, party: number): Promise<ServedLedger> {
    return new ServedLedger(await new Kvm(nc).open(servedBucket(party)));
  }

  /**
   * Claims request `digest` for `operationId`, or accepts a claim the same operation made before
   * (a redelivered work item). Throws ReplayError for another operation's or a served request.
   * Create-only first: an unused request costs one write, and only a taken one is read.
   */
  async claim(digest: Uint8Array, operationId: string): Promise<void> {
    const found = await this.record(digest, operationId, false);
    if (found === "served") throw new ReplayError("the client request was already served");
  }

  /**
   * Claims request `digest` for `operationId` and marks it served at once, for work this party only
   * takes note of (a signing it is not a signer of): one write. Throws ReplayError for another
   * operation's request; the same operation's again (a redelivery) is, or stays, served.
   */
  async serve(digest: Uint8Array, operationId: string): Promise<void> {
    if ((await this.record(digest, operationId, true)) === "claimed") await this.served(digest, operationId);
  }

  /** Marks request `digest` served by `operationId` (after the party contributed its result). */
  async served(digest: Uint8Array, operationId: string): Promise<void> {
    await this.kv.put(hex(digest), encode({ op: operationId, done: true }));
  }

  /**
   * Creates the entry (`created`), or finds the same operation's (`claimed` or `served`); another
   * operation's is a ReplayError.
   */
  private async record(
    digest: Uint8Array,
    operationId: string,
    done: boolean,
  ): Promise<"created" | "claimed" | "served"> {
    const k = hex(digest);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.kv.create(k, encode({ op: operationId, done }));
        return "created";
      } catch (err) {
        if (!/wrong last sequence|key exists/i.test(String(err))) throw err;
      }
      const e = await this.kv.get(k);
      // Gone again between the two (expired or deleted): try to create it once more.
      if (e?.operation !== "PUT") continue;
      const s = decode(e.value);
      if (s.op !== operationId)
        throw new ReplayError("the client request was already used by another operation");
      return s.done ? "served" : "claimed";
    }
    throw new ReplayError("the client request is being claimed concurrently");
  }
}
