/**
 * Composition root of a party worker. It connects to the control account (heartbeats, the tenant
 * registry) and, for every tenant the registry lists with a JWT for this worker's identity, opens a
 * connection into that tenant's account with its own share store and work loop. Tenants created
 * while the worker runs are picked up from the registry. A dropped connection aborts that tenant's
 * running sessions (their work items come back and rerun under new session ids).
 * @module
 */
import type { Scheme } from "@custody/core";
import {
  connectNats,
  HeartbeatPublisher,
  type MetricsListen,
  type PartyDirectory,
  type PartyIdentity,
  partyInbox,
  publicKeyOfCredentials,
  RevocationList,
  readCreds,
  readDirectory,
  readPartyIdentity,
  serveMetrics,
  TenantRegistry,
  TenantServices,
  type UserCredentials,
  WorkLoop,
} from "@custody/runtime";
import {
  type KekConfig,
  type KekProvider,
  kekProviderFromConfig,
  PartyLedger,
  ServedLedger,
  ShareStore,
} from "@custody/store";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Logger, pino } from "pino";
import { classify, runJob } from "./jobs.js";
import { WorkerMetrics } from "./metrics.js";
import { PairGuard } from "./pair-guard.js";
import { SCHEMES } from "./schemes.js";

/** How to run a worker. */
export interface WorkerConfig {
  readonly party: number;
  readonly workerId: string;
  readonly servers: readonly string[];
  /** NATS credentials file of this worker in the control account (its seed also opens tenant accounts). */
  readonly credsFile: string;
  /** The party's key-encryption key: in a PKCS#11 token, or (development only) a file. */
  readonly kek: KekConfig;
  /**
   * This worker's local ledger file (pairwise bans and active epochs it has seen), on a disk the
   * broker cannot reach; it must survive restarts. One file per worker.
   */
  readonly ledgerFile: string;
  /** The party's long-term identity file (Ed25519, signs protocol messages). */
  readonly identityFile: string;
  /** The party directory: every party's identity public key. */
  readonly directoryFile: string;
  /** Public keys (`O...`) of the authorities whose client credentials this party accepts. */
  readonly authorities: readonly string[];
  /** Concurrent sessions per tenant. Default 4. */
  readonly slots?: number;
  /** Heartbeat interval. Default 2 s. */
  readonly heartbeatMs?: number;
  readonly roundTimeoutMs?: number;
  readonly joinTimeoutMs?: number;
  /** Interval of in-progress signals on a running work item. Default 10 s. */
  readonly progressMs?: number;
  /** Helper threads per key-generation or refresh session (see `JobEnv.jobThreads`). Default 0. */
  readonly jobThreads?: number;
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** Schemes to serve; default all. */
  readonly schemes?: ReadonlyMap<string, Scheme<unknown>>;
  /** Where to serve Prometheus metrics (`/metrics`); none when absent. */
  readonly metrics?: MetricsListen;
}

/** A running worker. */
export interface RunningWorker {
  /** The control-account connection. */
  readonly nc: NatsConnection;
  /** URL of the metrics listener, when one was asked for. */
  readonly metricsUrl?: string;
  /** Stops pulling, lets running jobs finish (or aborts them), closes every connection. */
  stop(abortRunning?: boolean): Promise<void>;
}

/** One tenant served by this worker: a connection into its account, its share store, its loop. */
interface TenantWorker {
  readonly loop: WorkLoop;
  stop(): Promise<void>;
}

interface Shared {
  readonly config: WorkerConfig;
  readonly credentials: UserCredentials;
  readonly kek: KekProvider;
  readonly identity: PartyIdentity;
  readonly directory: PartyDirectory;
  readonly ledger: PartyLedger;
  readonly guard: PairGuard;
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  /** Whether stopping aborts running sessions instead of letting them finish. */
  abortOnStop: boolean;
}

async function serveTenant(s: Shared, tenant: string, jwt: () => string): Promise<TenantWorker> {
  const { config, log } = s;
  const name = `party${config.party}-${config.workerId}`;
  const nc = await connectNats({
    servers: config.servers,
    credentials: { jwt, seed: s.credentials.seed },
    name: `${name}@${tenant}`,
    inboxPrefix: partyInbox(config.party),
    tls: config.tls,
  });
  try {
    const store = await ShareStore.open(nc, config.party, s.kek);
    const served = await ServedLedger.open(nc, config.party);
    const revocations = await RevocationList.open(nc);
    const env = {
      nc,
      tenant,
      party: config.party,
      workerId: config.workerId,
      store,
      served,
      isRevoked: (credential: string) => revocations.isRevoked(credential),
      ledger: s.ledger,
      guard: s.guard,
      identity: s.identity,
      directory: s.directory,
      authorities: config.authorities,
      schemes: config.schemes ?? SCHEMES,
      roundTimeoutMs: config.roundTimeoutMs,
      joinTimeoutMs: config.joinTimeoutMs,
      jobThreads: config.jobThreads,
    };
    const loop = new WorkLoop({
      nc,
      party: config.party,
      workerId: config.workerId,
      slots: config.slots,
      progressMs: config.progressMs,
      log: log.child({ tenant }),
      classify,
      handler: (ctx) => runJob(env, ctx),
      onOutcome: (o) => s.metrics.record(o),
    });
    (async () => {
      for await (const st of nc.status()) {
        if (st.type === "disconnect") {
          log.warn({ tenant }, "disconnected from NATS: aborting running sessions");
          loop.abortRunning();
        }
      }
    })().catch(() => {});
    await loop.start();
    log.info({ tenant }, "serving tenant");
    return {
      loop,
      async stop() {
        await loop.stop(s.abortOnStop);
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (e) {
    await nc.close(); // a tenant that could not be served leaves no connection behind
    throw e;
  }
}

/** Starts a worker. */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const name = `party${config.party}-${config.workerId}`;
  const log = pino({ name, level: process.env.LOG_LEVEL ?? "info" });
  const identity = readPartyIdentity(config.identityFile);
  if (identity.party !== config.party) throw new Error(`identity file belongs to party ${identity.party}`);
  const credentials = readCreds(config.credsFile);
  const ledger = PartyLedger.open(config.ledgerFile);
  // Read at scrape time only, once the tenants below exist.
  const metrics = new WorkerMetrics(() =>
    tenants.entries().map(([tenant, w]) => ({
      tenant,
      activeJobs: w.loop.activeJobs,
      consumerState: () => w.loop.consumerState(),
    })),
  );
  const shared: Shared = {
    config,
    credentials,
    // Fails closed: a file KEK without consent, or a token that cannot be used, stops the worker here.
    kek: await kekProviderFromConfig(config.kek),
    identity,
    directory: readDirectory(config.directoryFile),
    ledger,
    guard: new PairGuard(ledger, log),
    log,
    metrics,
    abortOnStop: false,
  };
  const me = publicKeyOfCredentials(credentials);
  const nc = await connectNats({
    servers: config.servers,
    credentials,
    name,
    inboxPrefix: partyInbox(config.party),
    tls: config.tls,
  });
  let heartbeat: HeartbeatPublisher | undefined;
  const tenants = new TenantServices<TenantWorker>(
    me,
    // Announce a newly served tenant at once (once it counts as live), so the API may pick this party.
    (tenant, jwt) =>
      serveTenant(shared, tenant, jwt).then((w) => {
        setImmediate(() => heartbeat?.beat());
        return w;
      }),
    (tenant, err) =>
      log.error({ tenant, err: String(err) }, "tenant registry or connection failed; retrying"),
  );
  await tenants.start(await TenantRegistry.open(nc));
  heartbeat = new HeartbeatPublisher(
    nc,
    config.party,
    config.workerId,
    config.heartbeatMs ?? 2000,
    () => tenants.entries().reduce((n, [, w]) => n + w.loop.activeJobs, 0),
    () => tenants.entries().map(([t]) => t),
  );
  heartbeat.start();
  const metricsServer = config.metrics
    ? await serveMetrics(config.metrics, () => metrics.registry.metrics(), metrics.registry.contentType)
    : undefined;
  // A file KEK is never silent: the ready line names the KEK's kind, and a file gets a warning.
  const kek = config.kek.pkcs11 ? "pkcs11" : "file (insecure)";
  if (!config.kek.pkcs11)
    log.warn({ kek }, "the KEK is a file: whoever reads it opens every share (development only)");
  log.info(
    {
      party: config.party,
      workerId: config.workerId,
      tenants: tenants.entries().map(([t]) => t),
      metrics: metricsServer?.url,
      kek,
    },
    "worker ready",
  );
  return {
    nc,
    metricsUrl: metricsServer?.url,
    async stop(abortRunning = false) {
      shared.abortOnStop = abortRunning;
      heartbeat?.stop();
      await metricsServer?.close();
      await tenants.stop();
      await nc.drain().catch(() => nc.close());
    },
  };
}
