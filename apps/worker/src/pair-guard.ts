/**
 * The pair lock, enforced by the worker itself. DKLs23's OT-extension consistency check answers one
 * bit about the pairwise long-term secret Δ each time a peer cheats it, so after a `security` abort
 * naming peer j the worker never runs another session on that pairwise state (key, epoch, j):
 *
 * 1. the ban takes effect in memory at once and every in-flight session of the key that involves
 *    the culprit is cancelled;
 * 2. it is fsynced to the worker's local {@link PartyLedger} (the broker cannot delete or roll it
 *    back); if that write fails the worker stops serving the key altogether and says so;
 * 3. it is copied into the party's sealed key state so the party's other workers learn it too (best
 *    effort: the broker may drop that copy, which is why step 2 exists).
 *
 * A session is admitted only after the check and registered in the same synchronous step, so no
 * ban can slip between them. Only a refresh (fresh base OTs) that activates a new epoch lifts it:
 * bans are per epoch, and an older epoch never signs again.
 * @module
 */

import { PermanentFailure } from "@custody/runtime";
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

const id = (tenant: string, key: string) => `${tenant}\n${key}`;

/** Per-process guard of pairwise states. */
export class PairGuard {
  private readonly running = new Map<string, Set<Running>>();
  private readonly unservable = new Set<string>();

  constructor(
    private readonly ledger: PartyLedger,
    private readonly log: Log,
  ) {}

  /**
   * Admits a session of `key` at `epoch` with `participants`, or throws `pair-locked` (a banned
   * peer is among them, by the local ledger or the party's stored `bans`) or `key-unservable`.
   * @returns the session's abort signal (also aborted by `parent`) and its release function
   */
  admit(
    tenant: string,
    key: string,
    epoch: number,
    participants: readonly number[],
    storedBans: readonly { epoch: number; peer: number }[],
    parent: AbortSignal,
  ): { signal: AbortSignal; release: () => void } {
    const k = id(tenant, key);
    if (this.unservable.has(k))
      throw new PermanentFailure(
        "key-unservable",
        "this worker could not record a ban on this key and stopped serving it",
      );
    const banned = new Set(this.ledger.bannedPeers(tenant, key, epoch));
    for (const b of storedBans) if (b.epoch === epoch) banned.add(b.peer);
    const locked = participants.filter((p) => banned.has(p));
    if (locked.length > 0)
      throw new PermanentFailure(
        "pair-locked",
        "pairwise state with a blamed party is locked until a refresh activates",
        locked,
      );
    const controller = new AbortController();
    const onParent = () => controller.abort(parent.reason);
    parent.addEventListener("abort", onParent, { once: true });
    if (parent.aborted) controller.abort(parent.reason);
    const entry: Running = { participants, controller };
    const set = this.running.get(k) ?? new Set<Running>();
    set.add(entry);
    this.running.set(k, set);
    return {
      signal: controller.signal,
      release: () => {
        parent.removeEventListener("abort", onParent);
        set.delete(entry);
        if (set.size === 0) this.running.delete(k);
      },
    };
  }

  /**
   * Bans `culprits` on the pairwise state of `key` at `epoch` after a security abort: cancels their
   * running sessions, records the ban locally (or stops serving the key), then calls `share` to copy
   * it into the party's state. Never throws: the abort that caused it stays the job's error.
   */
  async ban(
    tenant: string,
    key: string,
    epoch: number,
    culprits: readonly number[],
    share: (peer: number) => Promise<void>,
  ): Promise<void> {
    const k = id(tenant, key);
    for (const r of this.running.get(k) ?? [])
      if (r.participants.some((p) => culprits.includes(p)))
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
      await share(peer).catch((e: unknown) =>
        this.log.warn(
          { tenant, keyId: key, peer, err: String(e) },
          "could not copy a pairwise ban into the party's state",
        ),
      );
    }
  }
}
