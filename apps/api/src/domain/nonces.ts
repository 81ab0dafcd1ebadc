/**
 * Request nonces already used, in the control account's bucket: a signed request is accepted once,
 * by whichever API instance sees it first.
 * @module
 */
import { NONCE_BUCKET } from "@custody/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** Remembers nonces in the shared bucket. */
export class NonceLedger {
  private constructor(private readonly kv: KV) {}

  /** Opens the (provisioned) nonce bucket. */
  static async open(nc: NatsConnection): Promise<NonceLedger> {
    return new NonceLedger(await new Kvm(nc).open(NONCE_BUCKET));
  }

  /**
   * Records a request nonce; false when it was recorded before (a replay). The bucket's TTL outlives
   * the accepted clock skew, so a nonce cannot be forgotten while its request is still fresh.
   */
  async remember(key: string): Promise<boolean> {
    const k = Buffer.from(key).toString("base64url");
    try {
      await this.kv.create(k, new Uint8Array([1]));
      return true;
    } catch (e) {
      if (String(e).includes("wrong last sequence")) return false;
      throw e;
    }
  }
}
