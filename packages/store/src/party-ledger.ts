/**
 * A worker's own durable memory of its security decisions, on its local disk where the broker
 * cannot reach: pairwise bans and the highest epoch of each key it saw activated. The broker holds
 * everything else and may delete or roll it back; these two facts survive that for as long as the
 * worker keeps its state directory.
 *
 * One append-only file of JSON lines, each written and fsynced before the decision takes effect.
 * A torn last line (a crash mid-append) is dropped when the file is opened: its decision never took
 * effect. Any other unreadable line stops the worker from opening the ledger at all.
 * @module
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";

/** The ledger cannot be read or written: the worker must not serve what it guards. */
export class LedgerError extends Error {
  override readonly name = "LedgerError";
}

type Entry =
  | {
      readonly t: "ban";
      readonly tenant: string;
      readonly key: string;
      readonly epoch: number;
      readonly peer: number;
    }
  | { readonly t: "active"; readonly tenant: string; readonly key: string; readonly epoch: number };

const id = (tenant: string, key: string) => `${tenant}\n${key}`;

/** Local, fsynced record of bans and activated epochs. */
export class PartyLedger {
  private readonly bans = new Map<string, Set<string>>();
  private readonly active = new Map<string, number>();

  private constructor(private readonly file: string) {}

  /** Opens (or starts) the ledger file. Throws LedgerError when it holds anything unreadable. */
  static open(file: string): PartyLedger {
    const ledger = new PartyLedger(file);
    if (!existsSync(file)) return ledger;
    const text = readFileSync(file, "utf8");
    const complete = text.lastIndexOf("\n") + 1;
    if (complete < text.length) truncateSync(file, Buffer.byteLength(text.slice(0, complete)));
    for (const line of text.slice(0, complete).split("\n")) {
      if (line === "") continue;
      let e: Entry;
      try {
        e = JSON.parse(line) as Entry;
      } catch {
        throw new LedgerError(`party ledger ${file} holds an unreadable entry`);
      }
      ledger.apply(e);
    }
    return ledger;
  }

  /** Peers banned on the pairwise state of `epoch` of a key. */
  bannedPeers(tenant: string, key: string, epoch: number): number[] {
    const out: number[] = [];
    for (const b of this.bans.get(id(tenant, key)) ?? []) {
      const [e, p] = b.split(":").map(Number);
      if (e === epoch && p !== undefined) out.push(p);
    }
    return out.sort((a, b) => a - b);
  }

  /** The highest epoch of a key this worker saw activated, if any. */
  activeEpoch(tenant: string, key: string): number | undefined {
    return this.active.get(id(tenant, key));
  }

  /** Durably records a ban (fsynced before it returns). Throws LedgerError when it cannot. */
  recordBan(tenant: string, key: string, epoch: number, peer: number): void {
    if (this.bannedPeers(tenant, key, epoch).includes(peer)) return;
    this.append({ t: "ban", tenant, key, epoch, peer });
  }

  /** Durably records that `epoch` of a key is active (only ever raises it). Throws LedgerError when it cannot. */
  recordActive(tenant: string, key: string, epoch: number): void {
    if ((this.activeEpoch(tenant, key) ?? -1) >= epoch) return;
    this.append({ t: "active", tenant, key, epoch });
  }

  private append(e: Entry): void {
    try {
      const fd = openSync(this.file, "a", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(e)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new LedgerError(`could not write the party ledger: ${(err as Error).message}`);
    }
    this.apply(e);
  }

  private apply(e: Entry): void {
    const k = id(e.tenant, e.key);
    if (e.t === "ban") {
      const set = this.bans.get(k) ?? new Set<string>();
      set.add(`${e.epoch}:${e.peer}`);
      this.bans.set(k, set);
    } else if (e.t === "active") {
      this.active.set(k, Math.max(this.active.get(k) ?? -1, e.epoch));
    } else throw new LedgerError(`party ledger ${this.file} holds an unknown entry`);
  }
}
