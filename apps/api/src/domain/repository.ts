/**
 * Access to a tenant's API buckets (in the tenant's account) with compare-and-set updates, so several API instances can run
 * side by side without a coordinator.
 * @module
 */
import { IDEMPOTENCY_BUCKET, KEYS_BUCKET, OPERATIONS_BUCKET } from "@custody/proto";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  decodeRecord,
  encodeRecord,
  type KeyIdentity,
  type KeyRecord,
  type OperationRecord,
} from "./records.js";

/** Entries a repository keeps of each kind (operation records, key identities). */
const REMEMBERED = 512;

/** Sets `key` as the most recently used entry of `map`, dropping the least recently used past {@link REMEMBERED}. */
function keep<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > REMEMBERED) map.delete(map.keys().next().value!);
}

/** A running watch of the operations bucket. */
export interface OperationWatch {
  readonly entries: AsyncIterable<{ readonly revision: number; readonly operation?: OperationRecord }>;
  stop(): void;
}

/** Raised when a CAS update keeps losing (should not happen in practice). */
export class ConcurrentUpdateError extends Error {
  override readonly name = "ConcurrentUpdateError";
}

/** Typed access to keys, operations and idempotency entries. */
export class Repository {
  private constructor(
    private readonly keys: KV,
    private readonly ops: KV,
    private readonly idem: KV,
    private readonly jsm: JetStreamManager,
  ) {}

  /** The revision each operation record this repository returned was read or written at. */
  private readonly readAt = new WeakMap<OperationRecord, number>();
  /** The operation records this process last read or wrote, least recently used first. */
  private readonly recent = new Map<string, OperationRecord>();
  /** Identities of keys whose DKG completed (they never change), least recently read first. */
  private readonly identities = new Map<string, KeyIdentity>();

  /** Opens the (provisioned) buckets. */
  static async open(nc: NatsConnection): Promise<Repository> {
    const kvm = new Kvm(nc);
    return new Repository(
      await kvm.open(KEYS_BUCKET),
      await kvm.open(OPERATIONS_BUCKET),
      await kvm.open(IDEMPOTENCY_BUCKET),
      await jetstreamManager(nc, { checkAPI: false }),
    );
  }

  /** A key by id. */
  async getKey(id: string): Promise<KeyRecord | undefined> {
    const e = await this.keys.get(id);
    if (e?.operation !== "PUT") return undefined;
    const k = decodeRecord<KeyRecord>(e.value);
    this.rememberIdentity(k);
    return k;
  }

  /**
   * The identity of key `id` (scheme, public key, chain code, derivation key): remembered once its
   * DKG completed, since it never changes after; read until then. `undefined` for an unknown key.
   */
  async keyIdentity(id: string): Promise<KeyIdentity | undefined> {
    return this.identities.get(id) ?? (await this.getKey(id));
  }

  /** The scheme of key `id` (fixed at its creation), `undefined` for an unknown key. */
  async keyScheme(id: string): Promise<string | undefined> {
    return (await this.keyIdentity(id))?.scheme;
  }

  private rememberIdentity(k: KeyRecord): void {
    if (k.publicKey === undefined) return;
    const { id, scheme, publicKey, chainCode, derivationKey } = k;
    keep(this.identities, id, { id, scheme, publicKey, chainCode, derivationKey });
  }

  /** Every key (ordered by creation time). */
  async listKeys(): Promise<KeyRecord[]> {
    const out: KeyRecord[] = [];
    for await (const id of await this.keys.keys()) {
      const k = await this.getKey(id);
      if (k) out.push(k);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Creates a key record; fails if it exists. */
  async createKey(k: KeyRecord): Promise<void> {
    await this.keys.create(k.id, encodeRecord(k));
  }

  /** Read-modify-write of a key with CAS; `change` returns undefined to leave it as is. */
  async updateKey(
    id: string,
    change: (k: KeyRecord) => KeyRecord | undefined,
  ): Promise<KeyRecord | undefined> {
    return this.cas(this.keys, id, change);
  }

  /**
   * Whether the stream leader holds a record of operation `id` (a read that no lagging replica
   * answers, unlike {@link getOperation}'s direct get).
   */
  async operationOnLeader(id: string): Promise<boolean> {
    const m = await this.jsm.streams.getMessage(`KV_${OPERATIONS_BUCKET}`, {
      last_by_subj: `$KV.${OPERATIONS_BUCKET}.${id}`,
    });
    return m !== null;
  }

  /**
   * An operation by id: read from the bucket, unless this process holds it ended (an ended
   * operation never changes) or holds a newer revision than the replica answered.
   */
  async getOperation(id: string): Promise<OperationRecord | undefined> {
    const known = this.recent.get(id);
    if (known && known.status !== "pending") return this.remember(known);
    const e = await this.ops.get(id);
    // A replica behind this process's own write (a direct get any replica may answer) gives way
    // to that write: read-your-writes.
    const knownAt = known ? this.readAt.get(known) : undefined;
    if (e?.operation !== "PUT" || (knownAt !== undefined && e.revision < knownAt))
      return known ? this.remember(known) : undefined;
    return this.remember(decodeRecord<OperationRecord>(e.value), e.revision);
  }

  /**
   * Operation `id` as this process last read or wrote it, pending or not (it may be behind the
   * bucket), else read: a basis for {@link updateOperation} (see there), never an answer to a client.
   */
  async knownOperation(id: string): Promise<OperationRecord | undefined> {
    const known = this.recent.get(id);
    return known ? this.remember(known) : this.getOperation(id);
  }

  /** Keeps `op` (at `revision`, if given) as the most recently used record of its id. */
  private remember(op: OperationRecord, revision?: number): OperationRecord {
    if (revision !== undefined) this.readAt.set(op, revision);
    keep(this.recent, op.id, op);
    return op;
  }

  /**
   * Follows the operations bucket: every record's latest version, then every change (a deleted or
   * unreadable record comes as `undefined`). With `afterRevision`, resumes after that revision.
   * Call `stop()` to end the iteration.
   */
  async watchOperations(afterRevision = 0): Promise<OperationWatch> {
    const it = await this.ops.watch(afterRevision > 0 ? { resumeFromRevision: afterRevision + 1 } : {});
    async function* entries() {
      for await (const e of it as AsyncIterable<KvWatchEntry>) {
        let operation: OperationRecord | undefined;
        try {
          operation = e.operation === "PUT" ? decodeRecord<OperationRecord>(e.value) : undefined;
        } catch {
          operation = undefined;
        }
        yield { revision: e.revision, operation };
      }
    }
    return { entries: entries(), stop: () => it.stop() };
  }

  /** Creates an operation record; fails if it exists. */
  async createOperation(op: OperationRecord): Promise<void> {
    this.remember(structuredClone(op), await this.ops.create(op.id, encodeRecord(op)));
  }

  /**
   * Read-modify-write of an operation with CAS. With `basis`, a record of `id` just returned by
   * {@link getOperation}, the first attempt starts from it instead of reading again (a stale basis
   * only costs the refused write and a read). `change` returns a new record and never alters the
   * one it is given (which may be the caller's basis). A `change` that declines the basis is not
   * tried on a fresher record: give a basis only where what `change` declines never reverts (an
   * ended operation, a report or phase already recorded).
   */
  async updateOperation(
    id: string,
    change: (op: OperationRecord) => OperationRecord | undefined,
    basis?: OperationRecord,
  ): Promise<OperationRecord | undefined> {
    const revision = basis && basis.id === id ? this.readAt.get(basis) : undefined;
    return this.cas(
      this.ops,
      id,
      change,
      revision === undefined ? undefined : { value: basis!, revision },
      (op, rev) => this.remember(op, rev),
    );
  }

  /**
   * Claims an idempotency key for `operationId`. Returns the operation id that owns the key:
   * `operationId` when the claim succeeded, the earlier one otherwise.
   */
  async claimIdempotencyKey(key: string, operationId: string, staleAfterMs = 10_000): Promise<string> {
    const value = new TextEncoder().encode(operationId);
    try {
      await this.idem.create(key, value);
      return operationId;
    } catch (e) {
      const existing = await this.idem.get(key);
      if (existing?.operation !== "PUT") throw e;
      const owner = new TextDecoder().decode(existing.value);
      // A claim whose request died before writing its operation (no 202 was given) is taken over,
      // with compare-and-set, once it is old enough that the first request cannot still be writing.
      if (Date.now() - existing.created.getTime() > staleAfterMs && !(await this.getOperation(owner))) {
        try {
          await this.idem.update(key, value, existing.revision);
          return operationId;
        } catch {
          const now = await this.idem.get(key);
          if (now?.operation === "PUT") return new TextDecoder().decode(now.value);
        }
      }
      return owner;
    }
  }

  private async cas<T>(
    kv: KV,
    id: string,
    change: (v: T) => T | undefined,
    basis?: { readonly value: T; readonly revision: number },
    seen: (value: T, revision: number) => void = () => {},
  ): Promise<T | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const cur = attempt === 0 && basis ? basis : await this.read<T>(kv, id);
      if (!cur) return undefined;
      if (cur !== basis) seen(cur.value, cur.revision);
      const next = change(cur.value);
      if (!next) return cur.value;
      try {
        seen(next, await kv.update(id, encodeRecord(next as object), cur.revision));
        return next;
      } catch (err) {
        if (!String(err).includes("wrong last sequence")) throw err;
      }
    }
    throw new ConcurrentUpdateError(`could not update ${id}`);
  }

  private async read<T>(kv: KV, id: string): Promise<{ value: T; revision: number } | undefined> {
    const e = await kv.get(id);
    return e?.operation === "PUT" ? { value: decodeRecord<T>(e.value), revision: e.revision } : undefined;
  }
}
