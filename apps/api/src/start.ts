/**
 * Composition root of the API process: connect to the control account as the API identity (the
 * tenant registry, heartbeats, nonces, the audit trail), open a plane and a revocation list per
 * tenant, serve HTTP.
 * @module
 */

import type { Server as HttpsServer } from "node:https";
import {
  API_INBOX,
  AuditLog,
  connectNats,
  LivenessTracker,
  type MetricsListen,
  readCreds,
  serveMetrics,
  TenantRegistry,
} from "@custody/runtime";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { NonceLedger } from "./domain/nonces.js";
import { Tenancy } from "./domain/tenancy.js";
import type { DeliveryPolicy } from "./domain/webhooks-delivery.js";
import { WebhookSigner } from "./domain/webhooks-signing.js";
import { buildApp } from "./http/app.js";
import { operationView } from "./http/present.js";
import { RevocationLists } from "./http/revocation-lists.js";
import { ApiMetrics } from "./metrics.js";
import { httpsOptions, reloadTls, type TlsFiles } from "./tls.js";

/** How to run the API. */
export interface ApiConfig {
  readonly servers: readonly string[];
  /** NATS credentials file of the API identity in the control account. */
  readonly credsFile: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** Public keys (`O...`) of the authorities whose credentials the API accepts. */
  readonly authorities: readonly string[];
  /** File of the Ed25519 seed (64 hex digits) that signs webhook deliveries; without it, no webhooks. */
  readonly webhookKeyFile?: string;
  /** Retry policy of webhook deliveries (defaults: 1 s doubling to 5 min, 30 attempts, 24 h). */
  readonly webhookPolicy?: DeliveryPolicy;
  /** Interval of the event stream's keep-alive comments (ms). Default 15 s. */
  readonly eventsKeepAliveMs?: number;
  /** Where to serve Prometheus metrics (`/metrics`); none when absent. */
  readonly metrics?: MetricsListen;
  /** Per-credential signing rate in messages (default 50 per second, burst 100). */
  readonly signRate?: { readonly perSecond: number; readonly burst: number };
  /** HTTPS for the API's listener (reloaded on SIGHUP); plain HTTP when absent. */
  readonly https?: TlsFiles;
}

/** A running API. */
export interface RunningApi {
  readonly url: string;
  /** URL of the metrics listener, when one was asked for. */
  readonly metricsUrl?: string;
  stop(): Promise<void>;
}

/** Fewest live parties any key can sign with (thresholds start at 2). */
const MIN_QUORUM = 2;

/** Starts the API and resolves once it listens. */
export async function startApi(config: ApiConfig): Promise<RunningApi> {
  const logger = pino({ name: "api", level: process.env.LOG_LEVEL ?? "info" });
  const credentials = readCreds(config.credsFile);
  const signer = config.webhookKeyFile ? WebhookSigner.fromFile(config.webhookKeyFile) : undefined;
  const nc = await connectNats({
    servers: config.servers,
    credentials,
    name: "api",
    inboxPrefix: API_INBOX,
    tls: config.tls,
  });
  const js = jetstream(nc, { timeout: 5000 });
  const nonces = await NonceLedger.open(nc);
  const liveness = new LivenessTracker(nc);
  liveness.start();
  const audit = new AuditLog(js, (e) => logger.error({ err: String(e) }, "audit append failed"));
  const metrics = new ApiMetrics(liveness);
  const tenancy = new Tenancy({
    metrics,
    servers: config.servers,
    credentials,
    tls: config.tls,
    liveness,
    audit,
    log: logger,
    webhooks: signer ? { signer, render: operationView, policy: config.webhookPolicy } : undefined,
    signRate: config.signRate,
  });
  const registry = await TenantRegistry.open(nc);
  const revocations = new RevocationLists({
    servers: config.servers,
    credentials,
    tls: config.tls,
    log: logger,
  });
  await Promise.all([tenancy.start(registry), revocations.start(registry)]);
  const app = await buildApp({
    metrics,
    ...(config.https ? { https: httpsOptions(config.https) } : {}),
    service: tenancy,
    logger,
    deadLetters: tenancy,
    events: tenancy,
    eventsKeepAliveMs: config.eventsKeepAliveMs,
    webhooks: tenancy,
    audit,
    auth: { authorities: config.authorities, nonces, revocations },
    credentials: revocations,
    ready: () => ({
      // Ready once a quorum could sign: every key needs at least two live parties.
      ok:
        !nc.isClosed() &&
        !nc.isDraining() &&
        tenancy.connected() &&
        revocations.connected() &&
        liveness.liveParties().length >= MIN_QUORUM,
      liveParties: liveness.liveParties(),
    }),
  });
  const address = await app.listen({ host: config.host ?? "127.0.0.1", port: config.port ?? 8080 });
  const tlsFiles = config.https;
  // A renewed certificate is served from the next connection on; a bad one keeps the current one.
  const reload = () => {
    if (!tlsFiles) return;
    const failed = reloadTls(app.server as HttpsServer, tlsFiles);
    if (failed) logger.error({ err: failed }, "TLS reload failed: keeping the current certificate");
    else logger.info({}, "TLS certificate reloaded");
  };
  if (tlsFiles) process.on("SIGHUP", reload);
  const metricsServer = config.metrics
    ? await serveMetrics(config.metrics, () => metrics.registry.metrics(), metrics.registry.contentType)
    : undefined;
  logger.info({ url: address, metrics: metricsServer?.url }, "api listening");
  return {
    url: address,
    metricsUrl: metricsServer?.url,
    async stop() {
      process.off("SIGHUP", reload);
      await metricsServer?.close();
      await app.close();
      await tenancy.stop();
      await revocations.stop();
      liveness.stop();
      await nc.drain().catch(() => nc.close());
    },
  };
}
