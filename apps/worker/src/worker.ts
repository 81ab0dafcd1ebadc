/**
 * Composition root of a party worker: connect as the worker's identity, open the party's share
 * store, start heartbeats and the work loop. Aborts running sessions when the connection drops
 * (their work items come back and rerun under new session ids).
 * @module
 */
import type { Scheme } from "@custody/core";
import {
  connectNats,
  HeartbeatPublisher,
  partyInbox,
  readDirectory,
  readPartyIdentity,
  WorkLoop,
} from "@custody/runtime";
import { readKek, ShareStore } from "@custody/store";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { classify, runJob } from "./jobs.js";
import { SCHEMES } from "./schemes.js";

/** How to run a worker. */
export interface WorkerConfig {
  readonly party: number;
  readonly workerId: string;
  readonly servers: readonly string[];
  /** NKey seed file of this worker. */
  readonly seedFile: string;
  /** The party's key-encryption key file. */
  readonly kekFile: string;
  /** The party's long-term identity file (Ed25519, signs protocol messages). */
  readonly identityFile: string;
  /** The party directory: every party's identity public key. */
  readonly directoryFile: string;
  /** Public keys (`O...`) of the authorities whose client credentials this party accepts. */
  readonly authorities: readonly string[];
  /** Concurrent sessions. Default 4. */
  readonly slots?: number;
  /** Heartbeat interval. Default 2 s. */
  readonly heartbeatMs?: number;
  readonly roundTimeoutMs?: number;
  readonly joinTimeoutMs?: number;
  /** Interval of in-progress signals on a running work item. Default 10 s. */
  readonly progressMs?: number;
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** Schemes to serve; default all. */
  readonly schemes?: ReadonlyMap<string, Scheme<unknown>>;
}

/** A running worker. */
export interface RunningWorker {
  readonly nc: NatsConnection;
  /** Stops pulling, lets running jobs finish (or aborts them), closes the connection. */
  stop(abortRunning?: boolean): Promise<void>;
}

/** Starts a worker. */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const log = pino({
    name: `party${config.party}-${config.workerId}`,
    level: process.env.LOG_LEVEL ?? "info",
  });
  const kek = readKek(config.kekFile);
  const identity = readPartyIdentity(config.identityFile);
  if (identity.party !== config.party) throw new Error(`identity file belongs to party ${identity.party}`);
  const directory = readDirectory(config.directoryFile);
  const nc = await connectNats({
    servers: config.servers,
    seedFile: config.seedFile,
    name: `party${config.party}-${config.workerId}`,
    inboxPrefix: partyInbox(config.party),
    tls: config.tls,
  });
  const store = await ShareStore.open(nc, config.party, kek);
  const env = {
    nc,
    party: config.party,
    workerId: config.workerId,
    store,
    identity,
    directory,
    authorities: config.authorities,
    schemes: config.schemes ?? SCHEMES,
    roundTimeoutMs: config.roundTimeoutMs,
    joinTimeoutMs: config.joinTimeoutMs,
  };
  const loop = new WorkLoop({
    nc,
    party: config.party,
    workerId: config.workerId,
    slots: config.slots,
    progressMs: config.progressMs,
    log,
    classify,
    handler: (ctx) => runJob(env, ctx),
  });
  const heartbeat = new HeartbeatPublisher(
    nc,
    config.party,
    config.workerId,
    config.heartbeatMs ?? 2000,
    () => loop.activeJobs,
  );
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        log.warn({}, "disconnected from NATS: aborting running sessions");
        loop.abortRunning();
      }
    }
  })().catch(() => {});
  await loop.start();
  heartbeat.start();
  log.info({ party: config.party, workerId: config.workerId }, "worker ready");
  return {
    nc,
    async stop(abortRunning = false) {
      heartbeat.stop();
      await loop.stop(abortRunning);
      await nc.drain().catch(() => nc.close());
    },
  };
}
