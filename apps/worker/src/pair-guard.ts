/**
 * The pair lock, enforced by the worker itself. DKLs23's OT-extension consistency check answers one
 * bit about the pairwise long-term secret Δ each time a peer cheats it, so after a `security` abort
 * naming peer j the worker never runs another protocol step on that pairwise state (key, epoch, j):
 *
 * 1. Every protocol step of a key's signing sessions runs through one queue per (tenant, key,
 *    epoch) in this worker, and checks the bans right before it runs. So no two steps that run an
 *    OT-extension check on the same pairwise state overlap, and a step that follows a failed check
 *    sees its ban: concurrent sessions cannot each have the check fail once (a co-signer that
 *    releases many cheating messages at once gets one failure, not one per session).
 * 2. A step that fails with `security` bans its culprits before the queue moves on: in memory and
 *    fsynced to the worker's local {@link PartyLedger} (the broker cannot delete or roll it back),
 *    and cancels every other running session of the key that involves a culprit. If the ledger
 *    cannot be written, the worker stops serving the key altogether and says so.
 * 3. The job then copies the ban into the party's sealed key state, so the party's other workers
 *    learn it too (best effort: the broker may drop that copy, which is why step 2 exists).
 *
 * Only a refresh (fresh base OTs) that activates a new epoch lifts a ban: bans are per epoch, and an
 * older epoch never signs again.
 * @module
 */
import { ProtocolError } from "@custody/core";
import { PermanentFailure, type SessionHost } from "@custody/runtime";
import { LedgerError, type PartyLedger } from "@custody/store";

/** Minimal logger. */
interface Log {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

interface Running {
  readonly participants: readonly number[];
  readonly controller: AbortController;
}

/** One admitted session: its abort signal, a host wrapper that guards every step, and its release. */
export interface Admission {
  readonly signal: AbortSignal;
  guard<T>(inner: SessionHost<T>): SessionHost<T>;
  release(): void;
}

const id = (tenant: string, key: string) => `${tenant}\n${key}`;

/** Per-process guard of pairwise states. */
export class PairGuard {
  private readonly running = new Map<string, Set<Running>>();
  private readonly unservable = new Set<string>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ledger: PartyLedger,
    private readonly log: Log,
  ) {}

  /**
   * Admits a session of `key` at `epoch` with `participants`, or throws `pair-locked` (a banned
   * peer is among them, by the local ledger or the party's stored `bans`) or `key-unservable`.
   */
  admit(
    tenant: string,
    key: string,
    epoch: number,
    participants: readonly number[],
    storedBans: readonly { epoch: number; peer: number }[],
    parent: AbortSignal,
  ): Admission {
    const k = id(tenant, key);
    const stored = new Set(storedBans.filter((b) => b.epoch === epoch).map((b) => b.peer));
    this.check(tenant, key, epoch, participants, stored);
    const controller = new AbortController();
    const onParent = () => controller.abort(parent.reason);
    parent.addEventListener("abort", onParent, { once: true });
    if (parent.aborted) controller.abort(parent.reason);
    const entry: Running = { participants, controller };
    const set = this.running.get(k) ?? new Set<Running>();
    set.add(entry);
    this.running.set(k, set);
    const queueKey = `${k}\n${epoch}`;
    /** Runs one step after every earlier step of the key's epoch, with the bans checked first. */
    const step = <R>(run: () => Promise<R>): Promise<R> => {
      const prev = this.queues.get(queueKey) ?? Promise.resolve();
      const next = prev.then(async () => {
        this.check(tenant, key, epoch, participants, stored);
        try {
          return await run();
        } catch (e) {
          if (e instanceof ProtocolError && e.kind === "security" && e.culprits.length > 0)
            this.recordBan(tenant, key, epoch, e.culprits, entry);
          throw e;
        }
      });
      const settled = next.catch(() => {});
      this.queues.set(queueKey, settled);
      void settled.then(() => {
        if (this.queues.get(queueKey) === settled) this.queues.delete(queueKey);
      });
      return next;
    };
    return {
      signal: controller.signal,
      guard: <T>(inner: SessionHost<T>): SessionHost<T> => ({
        start: () => step(() => inner.start()),
        deliver: (m) => step(() => inner.deliver(m)),
        missing: () => inner.missing(),
        settle: () => step(() => inner.settle()),
        result: () => inner.result(),
        close: () => inner.close(),
      }),
      release: () => {
        parent.removeEventListener("abort", onParent);
        set.delete(entry);
        if (set.size === 0) this.running.delete(k);
      },
    };
  }

  /** Copies a ban into the party's state through `share` (after {@link admit}'s step recorded it). Never throws. */
  async shareBan(
    tenant: string,
    key: string,
    culprits: readonly number[],
    share: (peer: number) => Promise<void>,
  ) {
    for (const peer of culprits)
      await share(peer).catch((e: unknown) =>
        this.log.warn(
          { tenant, keyId: key, peer, err: String(e) },
          "could not copy a pairwise ban into the party's state",
        ),
      );
  }

  private check(
    tenant: string,
    key: string,
    epoch: number,
    participants: readonly number[],
    stored: Set<number>,
  ) {
    if (this.unservable.has(id(tenant, key)))
      throw new PermanentFailure(
        "key-unservable",
        "this worker could not record a ban on this key and stopped serving it",
      );
    const banned = new Set([...stored, ...this.ledger.bannedPeers(tenant, key, epoch)]);
    const locked = participants.filter((p) => banned.has(p));
    if (locked.length > 0)
      throw new PermanentFailure(
        "pair-locked",
        "pairwise state with a blamed party is locked until a refresh activates",
        locked,
      );
  }

  /**
   * Synchronously: cancels the culprits' other running sessions of the key (the failing one ends with
   * its own `security` error), and records the ban (or stops serving the key).
   */
  private recordBan(
    tenant: string,
    key: string,
    epoch: number,
    culprits: readonly number[],
    failing: Running,
  ) {
    const k = id(tenant, key);
    for (const r of this.running.get(k) ?? [])
      if (r !== failing && r.participants.some((p) => culprits.includes(p)))
        r.controller.abort(
          new PermanentFailure("pair-locked", "a co-signer of this key was caught cheating", culprits),
        );
    for (const peer of culprits) {
      try {
        this.ledger.recordBan(tenant, key, epoch, peer);
      } catch (e) {
        this.unservable.add(k);
        this.log.error(
          { tenant, keyId: key, peer, err: e instanceof LedgerError ? e.message : String(e) },
          "could not record a pairwise ban durably: this worker stops serving the key",
        );
      }
    }
  }
}
