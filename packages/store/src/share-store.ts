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
  /** Tenant that owns the key (authenticated with the share). */
  readonly tenant: string;
  readonly share: Uint8Array;
}

const entryKey = (keyId: string, epoch: number) => `${token(keyId)}.${epoch}`;
const locksKey = (keyId: string) => `${token(keyId)}.locks`;
const parseLocks = (b: Uint8Array): number[] => {
  const v = JSON.parse(new TextDecoder().decode(b)) as unknown;
  return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x)) : [];
};

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
  async put(keyId: string, epoch: number, scheme: string, tenant: string, share: Uint8Array): Promise<void> {
    const slot = { keyId, party: this.party, epoch, scheme, tenant };
    await this.kv.put(entryKey(keyId, epoch), encodeRecord([scheme, tenant], seal(this.kek, slot, share)));
  }

  /** The share of `keyId` at `epoch`, or undefined. Throws SealError when the record was tampered with. */
  async get(keyId: string, epoch: number): Promise<StoredShare | undefined> {
    const e = await this.kv.get(entryKey(keyId, epoch));
    if (e?.operation !== "PUT" || e.value.length === 0) return undefined;
    const { labels, sealed } = decodeRecord(e.value);
    const [scheme = "", tenant = ""] = labels;
    return {
      scheme,
      tenant,
      share: open(this.kek, { keyId, party: this.party, epoch, scheme, tenant }, sealed),
    };
  }

  /**
   * Locks the pairwise state of `keyId` with `peer` after a security abort blamed it: no signing
   * with that peer until a refresh replaces the pairwise state. Locks of a key live in one entry.
   */
  async lockPair(keyId: string, peer: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const e = await this.kv.get(locksKey(keyId));
      const current = e?.operation === "PUT" ? parseLocks(e.value) : [];
      if (current.includes(peer)) return;
      const next = new TextEncoder().encode(JSON.stringify([...current, peer].sort((a, b) => a - b)));
      try {
        if (e?.operation === "PUT") await this.kv.update(locksKey(keyId), next, e.revision);
        else await this.kv.create(locksKey(keyId), next);
        return;
      } catch (err) {
        if (!String(err).includes("wrong last sequence")) throw err;
      }
    }
  }

  /** Peers whose pairwise state with this party is locked for `keyId`. */
  async lockedPeers(keyId: string): Promise<number[]> {
    const e = await this.kv.get(locksKey(keyId));
    return e?.operation === "PUT" ? parseLocks(e.value) : [];
  }

  /** Removes every pairwise lock of `keyId` (after a successful refresh). */
  async clearLocks(keyId: string): Promise<void> {
    if ((await this.lockedPeers(keyId)).length > 0) await this.kv.delete(locksKey(keyId));
  }

  /** Deletes the share of `keyId` at `epoch`. */
  async delete(keyId: string, epoch: number): Promise<void> {
    await this.kv.delete(entryKey(keyId, epoch));
  }
}

/** Record layout: two length-prefixed labels (scheme, tenant), then the sealed share. */
function encodeRecord(labels: readonly string[], sealed: Uint8Array): Uint8Array {
  const parts = labels.map((l) => new TextEncoder().encode(l));
  const out = new Uint8Array(parts.reduce((n, p) => n + 1 + p.length, 0) + sealed.length);
  let off = 0;
  for (const p of parts) {
    if (p.length > 255) throw new Error("share record label too long");
    out[off] = p.length;
    out.set(p, off + 1);
    off += 1 + p.length;
  }
  out.set(sealed, off);
  return out;
}

function decodeRecord(bytes: Uint8Array): { labels: string[]; sealed: Uint8Array } {
  const labels: string[] = [];
  let off = 0;
  for (let i = 0; i < 2; i++) {
    const n = bytes[off] ?? 0;
    if (bytes.length < off + 1 + n) throw new Error("truncated share record");
    labels.push(new TextDecoder().decode(bytes.subarray(off + 1, off + 1 + n)));
    off += 1 + n;
  }
  return { labels, sealed: bytes.subarray(off) };
}
