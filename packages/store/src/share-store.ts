/**
 * A party's share repository in its own KV bucket (only that party's workers can reach it), every
 * record sealed (a fresh data key wrapped by the party's KEK provider) with associated data the reader supplies: the tenant of the
 * account it reads from, the key id, the party, the scheme, and for shares the epoch and session.
 *
 * Per key there is one state record (`<key>.state`) and one record per share (`<key>.<epoch>.<session>`):
 * - the state names the DKG operation that created the key (created with the server's create-only
 *   semantics, so a second DKG can never take over an existing key id), every share slot written,
 *   the active epoch and session, and the pairwise bans;
 * - a share is written once into a slot named by its session and never overwritten, so a retried or
 *   replayed session cannot replace a share another session produced;
 * - activation makes one session's shares of an epoch active and purges every other slot: older
 *   epochs and the other sessions' leftovers.
 * Updates of the state are compare-and-set; a conflict that does not settle throws, never passes.
 * The broker can still delete or roll back any of it; the worker's local {@link PartyLedger} is what
 * keeps bans and the active epoch when it does.
 * @module
 */
import { shareBucket, token } from "@custody/proto";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { KekProvider } from "./kek-provider.js";
import { type Kek, kekProvider, open, openState, seal, sealState } from "./sealed.js";

/** Which key a caller means, as the caller expects it (never read back from a record). */
export interface KeyRef {
  /** Tenant of the account the store was opened in. */
  readonly tenant: string;
  readonly keyId: string;
  readonly scheme: string;
}

/** One share slot: an epoch and the session (hex) that produced its share. */
export interface Slot {
  readonly epoch: number;
  readonly session: string;
}

/** A pairwise ban: no signing with `peer` on the pairwise state of `epoch`. */
export interface Ban {
  readonly epoch: number;
  readonly peer: number;
}

/** The one operation (and its latest session) whose share of an epoch this party confirms. */
export interface Confirmed extends Slot {
  readonly operation: string;
}

/** The party's view of one key. */
export interface KeyState {
  /** Operation id of the DKG that created the key. */
  readonly createdBy: string;
  /** Every share slot written and not yet purged. */
  readonly slots: readonly Slot[];
  /**
   * Per epoch not yet activated, the slot this party confirmed. One operation per epoch: so two
   * operations can never both collect every party's confirmation for one epoch (which, activated in
   * different orders at different parties, would split the key).
   */
  readonly confirmed?: readonly Confirmed[];
  /** The slot every party confirmed (absent until the DKG is activated). */
  readonly active?: Slot;
  readonly bans: readonly Ban[];
}

/** A stored share and the parties of the session that produced it. */
export interface StoredShare {
  readonly share: Uint8Array;
  readonly parties: readonly number[];
}

/** The key id exists and was created by another operation: a DKG never replaces a key. */
export class KeyExistsError extends Error {
  override readonly name = "KeyExistsError";
}

/** Another operation's share of this epoch is the one this party confirmed. */
export class EpochTakenError extends Error {
  override readonly name = "EpochTakenError";
}

/** A state update lost every compare-and-set race until its deadline. */
export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
}

const stateKey = (keyId: string) => `${token(keyId)}.state`;
const slotKey = (keyId: string, s: Slot) => `${token(keyId)}.${s.epoch}.${token(s.session)}`;
const sameSlot = (a: Slot | undefined, b: Slot) => a?.epoch === b.epoch && a.session === b.session;
const CAS_ATTEMPTS = 64;
const isConflict = (e: unknown) => /wrong last sequence|key exists/i.test(String(e));

/** Reads and writes one party's sealed shares and key states. */
export class ShareStore {
  private constructor(
    private readonly kv: KV,
    private readonly party: number,
    private readonly kek: KekProvider,
  ) {}

  /** Opens the party's (already provisioned) share bucket, sealing under `kek` (raw bytes: a file KEK). */
  static async open(nc: NatsConnection, party: number, kek: Kek): Promise<ShareStore> {
    const kv = await new Kvm(nc).open(shareBucket(party));
    return new ShareStore(kv, party, kekProvider(kek));
  }

  /** The party's state of a key, or undefined. Throws SealError when the record does not open for `ref`. */
  async state(ref: KeyRef): Promise<KeyState | undefined> {
    return (await this.readState(ref))?.state;
  }

  /**
   * Claims `ref.keyId` for DKG operation `operationId`: creates the state record (create-only on
   * the server), or accepts it when the same operation created it and it is not active yet (a
   * retried DKG). Throws KeyExistsError otherwise.
   */
  async claimKey(ref: KeyRef, operationId: string): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.readState(ref);
      if (cur) {
        if (cur.state.createdBy !== operationId || cur.state.active)
          throw new KeyExistsError(`key ${ref.keyId} already exists`);
        return;
      }
      try {
        await this.kv.create(
          stateKey(ref.keyId),
          await this.encodeState(ref, { createdBy: operationId, slots: [], bans: [] }),
        );
        return;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    throw new StoreConflictError(`state of key ${ref.keyId} kept changing`);
  }

  /**
   * Stores a share in its own slot, as the share of its epoch this party confirms for `operation`
   * (recorded in the state first, then written create-only). A later session of the same operation
   * (a retry) takes the confirmation over; another operation's is refused with EpochTakenError, and
   * so is an epoch at or before the active one.
   */
  async putShare(
    ref: KeyRef,
    slot: Slot,
    share: Uint8Array,
    parties: readonly number[],
    operation: string,
  ): Promise<void> {
    await this.update(ref, (s) => {
      if (s.active && slot.epoch <= s.active.epoch)
        throw new EpochTakenError(`epoch ${slot.epoch} of key ${ref.keyId} is not after the active one`);
      const confirmed = s.confirmed ?? [];
      const other = confirmed.find((c) => c.epoch === slot.epoch && c.operation !== operation);
      if (other)
        throw new EpochTakenError(`epoch ${slot.epoch} of key ${ref.keyId} belongs to another operation`);
      return {
        ...s,
        slots: s.slots.some((x) => sameSlot(x, slot)) ? s.slots : [...s.slots, slot],
        confirmed: [...confirmed.filter((c) => c.epoch !== slot.epoch), { ...slot, operation }],
      };
    });
    const plain = new Uint8Array(1 + parties.length * 2 + share.length);
    plain[0] = parties.length;
    const view = new DataView(plain.buffer);
    for (const [i, p] of parties.entries()) view.setUint16(1 + 2 * i, p);
    plain.set(share, 1 + parties.length * 2);
    await this.kv.create(slotKey(ref.keyId, slot), await seal(this.kek, this.shareSlot(ref, slot), plain));
  }

  /** The share in `slot`, or undefined. Throws SealError when the record does not open for it. */
  async getShare(ref: KeyRef, slot: Slot): Promise<StoredShare | undefined> {
    const e = await this.kv.get(slotKey(ref.keyId, slot));
    if (!present(e)) return undefined;
    const plain = await open(this.kek, this.shareSlot(ref, slot), e.value);
    const n = plain[0] ?? 0;
    const view = new DataView(plain.buffer, plain.byteOffset);
    const parties = Array.from({ length: n }, (_, i) => view.getUint16(1 + 2 * i));
    return { parties, share: plain.slice(1 + 2 * n) };
  }

  /**
   * Makes `slot` the key's active slot and purges every other slot (older epochs and other
   * sessions). Only the slot this party confirmed for its epoch, and only forwards. Idempotent.
   * @returns the slots purged
   */
  async activate(ref: KeyRef, slot: Slot): Promise<Slot[]> {
    let purged: Slot[] = [];
    await this.update(ref, (s) => {
      if (sameSlot(s.active, slot)) {
        purged = s.slots.filter((x) => !sameSlot(x, slot));
        return purged.length === 0 ? undefined : { ...s, slots: [slot] };
      }
      if (!s.confirmed?.some((c) => sameSlot(c, slot)))
        throw new Error(
          `the slot being activated is not the one this party confirmed for epoch ${slot.epoch}`,
        );
      if (s.active && s.active.epoch >= slot.epoch)
        throw new Error(`key ${ref.keyId} is already active at epoch ${s.active.epoch}`);
      purged = s.slots.filter((x) => !sameSlot(x, slot));
      const confirmed = (s.confirmed ?? []).filter((c) => c.epoch > slot.epoch);
      return { ...s, active: slot, slots: [slot], confirmed };
    });
    for (const p of purged) await this.kv.purge(slotKey(ref.keyId, p));
    return purged;
  }

  /** Records a pairwise ban in the state (what other workers of this party read). */
  async ban(ref: KeyRef, ban: Ban): Promise<void> {
    await this.update(ref, (s) =>
      s.bans.some((b) => b.epoch === ban.epoch && b.peer === ban.peer)
        ? undefined
        : { ...s, bans: [...s.bans, ban] },
    );
  }

  private async update(ref: KeyRef, change: (s: KeyState) => KeyState | undefined): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.readState(ref);
      if (!cur) throw new Error(`key ${ref.keyId} has no state at party ${this.party}`);
      const next = change(cur.state);
      if (!next) return;
      try {
        await this.kv.update(stateKey(ref.keyId), await this.encodeState(ref, next), cur.revision);
        return;
      } catch (e) {
        if (!isConflict(e)) throw e;
        await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, 50)));
      }
    }
    throw new StoreConflictError(`state of key ${ref.keyId} kept changing`);
  }

  private async readState(ref: KeyRef): Promise<{ state: KeyState; revision: number } | undefined> {
    const e = await this.kv.get(stateKey(ref.keyId));
    if (!present(e)) return undefined;
    const plain = await openState(this.kek, this.stateSlot(ref), e.value);
    return { state: JSON.parse(new TextDecoder().decode(plain)) as KeyState, revision: e.revision };
  }

  private encodeState(ref: KeyRef, s: KeyState): Promise<Uint8Array> {
    return sealState(this.kek, this.stateSlot(ref), new TextEncoder().encode(JSON.stringify(s)));
  }

  private stateSlot(ref: KeyRef) {
    return { keyId: ref.keyId, party: this.party, scheme: ref.scheme, tenant: ref.tenant };
  }

  private shareSlot(ref: KeyRef, slot: Slot) {
    return { ...this.stateSlot(ref), epoch: slot.epoch, session: slot.session };
  }
}

const present = (e: KvEntry | null): e is KvEntry => e?.operation === "PUT" && e.value.length > 0;
