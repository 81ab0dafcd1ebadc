/**
 * Runs a protocol session in a worker thread, so CPU-heavy rounds (e.g. the base OTs of DKLs23 key
 * generation) never block the event loop: heartbeats, progress signals and other sessions keep going.
 * The thread script builds the session from a serialisable description with
 * {@link serveSessionThread}; messages and results cross the thread boundary by structured clone.
 * @module
 */

import { parentPort, Worker, workerData } from "node:worker_threads";
import { type PartyId, ProtocolError, type ProtocolMessage, Session, type Step } from "@custody/core";
import type { SessionHost } from "./session-host.js";

type Call =
  | { id: number; op: "start" }
  | { id: number; op: "deliver"; msg: ProtocolMessage }
  | { id: number; op: "missing" | "result" };
type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { kind?: string; message: string; culprits?: number[] } };

/** Starts `script` (which calls {@link serveSessionThread}) with `init` as its input. */
export function threadHost<T>(script: URL, init: unknown): SessionHost<T> {
  const worker = new Worker(script, { workerData: init });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let dead: Error | undefined;
  worker.on("message", (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else if (r.error.kind)
      p.reject(
        new ProtocolError(r.error.kind as ProtocolError["kind"], r.error.message, r.error.culprits ?? []),
      );
    else p.reject(new Error(r.error.message));
  });
  const die = (e: Error) => {
    dead = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on("error", die);
  worker.on("exit", (code) => die(new Error(`session thread exited (${code})`)));
  const call = <V>(c: Omit<Call, "id">): Promise<V> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<V>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...c, id });
    });
  };
  return {
    start: () => call<ProtocolMessage[]>({ op: "start" }),
    deliver: (msg) => call<ProtocolMessage[]>({ op: "deliver", msg } as Omit<Call, "id">),
    missing: () => call<PartyId[]>({ op: "missing" }),
    result: () => call<{ value: T } | undefined>({ op: "result" }),
    close: async () => {
      worker.removeAllListeners("exit");
      await worker.terminate();
    },
  };
}

/** What a thread script provides: the party, the first step and the round bound, from `workerData`. */
export type ThreadSessionFactory<T> = (init: unknown) => {
  self: PartyId;
  begin: () => Step<T>;
  maxRounds: number;
};

/** Serves one session inside a worker thread (call from the thread script). */
export function serveSessionThread<T>(factory: ThreadSessionFactory<T>): void {
  const port = parentPort;
  if (!port) throw new Error("serveSessionThread must run in a worker thread");
  const { self, begin, maxRounds } = factory(workerData);
  const session = new Session<T>(self, begin, { maxRounds });
  port.on("message", (c: Call) => {
    try {
      let value: unknown;
      if (c.op === "start") value = session.start();
      else if (c.op === "deliver") value = session.deliver(c.msg);
      else if (c.op === "missing") value = session.missing();
      else value = session.done ? { value: session.result } : undefined;
      port.postMessage({ id: c.id, ok: true, value } satisfies Reply);
    } catch (e) {
      const err = e as ProtocolError;
      port.postMessage({
        id: c.id,
        ok: false,
        error: {
          kind: e instanceof ProtocolError ? err.kind : undefined,
          message:
            e instanceof ProtocolError ? stripCulprits(err.message) : String((e as Error)?.message ?? e),
          culprits: e instanceof ProtocolError ? [...err.culprits] : undefined,
        },
      } satisfies Reply);
    }
  });
}

/** ProtocolError appends "(culprit: …)" to its message; strip it so the rebuilt error does not repeat it. */
function stripCulprits(message: string): string {
  return message.replace(/ \(culprit: [0-9, ]+\)$/, "");
}
