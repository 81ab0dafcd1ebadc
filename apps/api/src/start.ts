/**
 * Composition root of the API process: connect to NATS as the API identity, open the buckets,
 * track liveness, fold results, serve HTTP.
 * @module
 */
import { API_INBOX, AuditLog, connectNats, LivenessTracker } from "@custody/runtime";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { ResultAggregator } from "./domain/aggregator.js";
import { DeadLetters } from "./domain/dead-letters.js";
import { Repository } from "./domain/repository.js";
import { CustodyService } from "./domain/service.js";
import { buildApp } from "./http/app.js";

/** How to run the API. */
export interface ApiConfig {
  readonly servers: readonly string[];
  readonly seedFile: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** Public keys (`O...`) of the authorities whose credentials the API accepts. */
  readonly authorities: readonly string[];
}

/** A running API. */
export interface RunningApi {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the API and resolves once it listens. */
export async function startApi(config: ApiConfig): Promise<RunningApi> {
  const logger = pino({ name: "api", level: process.env.LOG_LEVEL ?? "info" });
  const nc = await connectNats({
    servers: config.servers,
    seedFile: config.seedFile,
    name: "api",
    inboxPrefix: API_INBOX,
    tls: config.tls,
  });
  const js = jetstream(nc, { timeout: 5000 });
  const repo = await Repository.open(nc);
  const liveness = new LivenessTracker(nc);
  liveness.start();
  const aggregator = new ResultAggregator(nc, js, repo, logger);
  await aggregator.start();
  const deadLetters = new DeadLetters({ js, repo, aggregator, log: logger });
  await deadLetters.start();
  const audit = new AuditLog(js, (e) => logger.error({ err: String(e) }, "audit append failed"));
  aggregator.onTerminal = (op) =>
    void audit.append({
      at: new Date().toISOString(),
      kind: "outcome",
      action: op.type,
      keyId: op.keyId,
      operationId: op.id,
      result: op.status,
      reason: op.error?.code,
    });
  const service = new CustodyService({ nc, js, repo, liveness });
  const app = await buildApp({
    service,
    logger,
    deadLetters,
    audit,
    auth: { authorities: config.authorities, nonces: { remember: (k) => repo.rememberNonce(k) } },
    ready: () => ({ ok: !nc.isClosed() && !nc.isDraining(), liveParties: liveness.liveParties() }),
  });
  const address = await app.listen({ host: config.host ?? "127.0.0.1", port: config.port ?? 8080 });
  return {
    url: address,
    async stop() {
      await app.close();
      await aggregator.stop();
      await deadLetters.stop();
      liveness.stop();
      await nc.drain().catch(() => nc.close());
    },
  };
}
