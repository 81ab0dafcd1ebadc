/**
 * A party's share repository: one KV entry per (key id, epoch) in the party's own bucket, sealed
 * under the party's KEK. Only that party's workers can reach the bucket (subject permissions).
 * @module
 */
import { shareBucket, token } from "@custody/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { open, seal } from "./sealed.js";

/** A stored share as the worker uses it. */
export interface StoredShare {
  readonly scheme: string;
  readonly share: Uint8Array;
}

const entryKey = (keyId: string, epoch: number) => `${token(keyId)}.${epoch}`;

/** Reads and writes one party's encrypted shares. */
export class ShareStore {
  private constructor(
    private readonly kv: KV,
    private readonly party: number,
    private readonly kek: Uint8Array,
  ) {}

  /** Opens the party's (already provisioned) share bucket. */
  static async open(nc: NatsConnection, party: number, kek: Uint8Array): Promise<ShareStore> {
    const kv = await new Kvm(nc).open(shareBucket(party));
    return new ShareStore(kv, party, kek);
  }

  /** Stores the share of `keyId` at `epoch` (replacing an unconfirmed one from an earlier attempt). */
  async put(keyId: string, epoch: number, scheme: string, share: Uint8Array): Promise<void> {
    const slot = { keyId, party: this.party, epoch, scheme };
    await this.kv.put(entryKey(keyId, epoch), encodeRecord(scheme, seal(this.kek, slot, share)));
  }

  /** The share of `keyId` at `epoch`, or undefined. Throws SealError when the record was tampered with. */
  async get(keyId: string, epoch: number): Promise<StoredShare | undefined> {
    const e = await this.kv.get(entryKey(keyId, epoch));
    if (e?.operation !== "PUT" || e.value.length === 0) return undefined;
    const { scheme, sealed } = decodeRecord(e.value);
    return { scheme, share: open(this.kek, { keyId, party: this.party, epoch, scheme }, sealed) };
  }

  /** Deletes the share of `keyId` at `epoch`. */
  async delete(keyId: string, epoch: number): Promise<void> {
    await this.kv.delete(entryKey(keyId, epoch));
  }
}

function encodeRecord(scheme: string, sealed: Uint8Array): Uint8Array {
  const s = new TextEncoder().encode(scheme);
  const out = new Uint8Array(1 + s.length + sealed.length);
  out[0] = s.length;
  out.set(s, 1);
  out.set(sealed, 1 + s.length);
  return out;
}

function decodeRecord(bytes: Uint8Array): { scheme: string; sealed: Uint8Array } {
  const n = bytes[0] ?? 0;
  if (bytes.length < 1 + n) throw new Error("truncated share record");
  return { scheme: new TextDecoder().decode(bytes.subarray(1, 1 + n)), sealed: bytes.subarray(1 + n) };
}
