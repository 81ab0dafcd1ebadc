/**
 * Builds the Fastify application: OpenAPI document and docs page, routes, and one error handler
 * that renders every failure as RFC 9457 problem+json.
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { ServerOptions } from "node:https";
import type { Socket } from "node:net";
import { type AuditLog, transientNatsError, type WorkerSighting } from "@custody/runtime";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import { AuditWatch } from "../domain/audit-watch.js";
import type { TenantCredentials } from "../domain/credential-registry.js";
import type { OperationPage, OperationQuery } from "../domain/operation-index.js";
import type { OperationRecord } from "../domain/records.js";
import type { CustodyApi } from "../domain/tenancy.js";
import { Problem } from "../problems.js";
import { openapiOptions } from "./openapi.js";
import { type AuthOptions, auth } from "./plugins/auth.js";
import { type BackpressureOptions, backpressure, backpressureFromEnv } from "./plugins/backpressure.js";
import { consoleRoutes } from "./routes/console.js";
import { statusRoutes } from "./routes/console-status.js";
import { credentialRoutes } from "./routes/credentials.js";
import { deadLetterRoutes } from "./routes/dead-letters.js";
import { type EventFeed, eventRoutes } from "./routes/events.js";
import { healthRoutes } from "./routes/health.js";
import { keyRoutes } from "./routes/keys.js";
import { operationRoutes } from "./routes/operations.js";
import { type WebhookAccess, webhookRoutes } from "./routes/webhooks.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Problem code of a failed request, for the audit trail. */
    auditReason?: string;
    /** The `reason` of a failed request's problem (e.g. `replayed` for a 401), for metrics. */
    problemReason?: string;
    /** Operation a request created, for the audit trail. */
    auditOperationId?: string;
  }
  interface FastifyInstance {
    /** The use cases, routed to the caller's tenant. */
    custody: CustodyApi;
    /** Readiness: connected to NATS, and the parties seen alive. */
    custodyReady: () => { ok: boolean; liveParties: number[] };
    /** Failed operations, newest first. */
    deadLetters: DeadLetterView;
  }
}

/** What the API knows beyond single reads: the operations, and the workers heard. */
export interface DeadLetterView {
  /** Failed operations of a tenant, newest first. */
  list(tenant: string, limit: number): OperationRecord[];
  /** A page of a tenant's operations, newest first, filtered by status, type and key. */
  operations(tenant: string, q: OperationQuery): OperationPage;
  /** True while an operation is known to be pending. */
  isPending(id: string): boolean;
  /** Calls `listener` with the id of every operation seen leaving `pending`. */
  onSettled(listener: (id: string) => void): void;
  /** Every worker heard that serves the tenant, live or not (GET /v1/status). */
  workers(tenant: string): readonly WorkerSighting[];
}

/** What the app needs. */
export interface AppDeps {
  readonly service: CustodyApi;
  readonly ready: () => { ok: boolean; liveParties: number[] };
  readonly logger: Logger;
  /** Who may call the API: trusted credential authorities, the nonce store, the revocation lists. */
  readonly auth: AuthOptions;
  /** The tenants' credential registries (what admins registered) and their revocation state. */
  readonly credentials: TenantCredentials;
  /** Where every /v1 request is recorded. */
  readonly audit?: AuditLog;
  readonly deadLetters: DeadLetterView;
  /** Limits of this instance; default from the environment (see the backpressure plugin). */
  readonly backpressure?: BackpressureOptions;
  /** Changes of the tenants' operations (GET /v1/events); without it the route answers 503. */
  readonly events?: EventFeed;
  /** Interval of the event stream's keep-alive comments (ms). Default 15 s. */
  readonly eventsKeepAliveMs?: number;
  /** Webhook subscriptions and the signing key; without it the webhook routes answer 404. */
  readonly webhooks?: WebhookAccess;
  /** Where every answered request is counted; none when absent. */
  readonly metrics?: {
    request(method: string, route: string, status: number, problem?: { code: string; reason?: string }): void;
  };
  /** HTTPS options of the listener (certificate, key, client CA); plain HTTP when absent. */
  readonly https?: ServerOptions;
}

const noEvents: EventFeed = {
  watchOperations: async () => {
    throw new Problem("unavailable", "this API serves no event stream");
  },
};
const noWebhooks: WebhookAccess = {
  webhookSigner: undefined,
  webhooks: () => {
    throw new Problem("not-found", "webhooks are not configured on this API");
  },
};

/** Creates the app (not listening yet). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One line per request, written when it is answered, with the operation it created or read.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    // Router-level failures (bad URL, over-long path parameter) are problems too.
    frameworkErrors: (err, req, reply) => {
      const p =
        (err as FastifyError).statusCode === 414
          ? new Problem("uri-too-long", "a path parameter is too long")
          : new Problem("invalid-request", "the request URL is malformed");
      req.auditReason = p.code;
      void (reply as unknown as FastifyReply)
        .code(p.status)
        .type("application/problem+json")
        .send(p.body(req.url.slice(0, 200)));
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorate("custody", deps.service);
  app.decorate("custodyReady", deps.ready);
  app.decorate("deadLetters", deps.deadLetters);

  app.setErrorHandler((err: FastifyError | Problem, req, reply) => {
    let problem: Problem;
    if (err instanceof Problem) problem = err;
    else if ((err as FastifyError).validation) problem = validationProblem(err as FastifyError);
    else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500)
      problem = new Problem(
        (err as FastifyError).statusCode === 404 ? "not-found" : "invalid-request",
        err.message,
      );
    else if (transientNatsError(err)) {
      req.log.warn({ err: String(err) }, "the store did not answer in time");
      problem = new Problem("unavailable", "the store did not answer in time; retry later", {}, 2);
    } else {
      req.log.error({ err }, "unhandled error");
      problem = new Problem("internal", "internal error");
    }
    req.auditReason = problem.code;
    if (typeof problem.extra.reason === "string") req.problemReason = problem.extra.reason;
    if (problem.retryAfter !== undefined) reply.header("retry-after", String(problem.retryAfter));
    return reply.code(problem.status).type("application/problem+json").send(problem.body(req.url));
  });
  app.setNotFoundHandler((req, reply) => {
    const p = new Problem("not-found", `no route ${req.method} ${req.url.split("?")[0]}`);
    return reply.code(404).type("application/problem+json").send(p.body(req.url));
  });

  closeUnusedSocketsOnClose(app);
  await app.register(swagger, openapiOptions);
  await app.register(swaggerUi, { routePrefix: "/docs" });
  await app.register(backpressure, {
    ...(deps.backpressure ?? backpressureFromEnv(process.env)),
    isPending: (id) => deps.deadLetters.isPending(id),
    onSettled: (listener) => deps.deadLetters.onSettled(listener),
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url;
    const id = (req.params as { id?: string } | undefined)?.id;
    const operationId = route?.startsWith("/v1/operations/") ? id : req.auditOperationId;
    req.log.info(
      {
        method: req.method,
        route: route ?? req.url.split("?")[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(operationId ? { operationId } : {}),
        ...(req.auditReason ? { problem: req.auditReason } : {}),
      },
      "request answered",
    );
  });
  const metrics = deps.metrics;
  if (metrics)
    app.addHook("onResponse", async (req, reply) => {
      const route = req.routeOptions.url ?? "unmatched";
      const problem = req.auditReason ? { code: req.auditReason, reason: req.problemReason } : undefined;
      metrics.request(req.method, route, reply.statusCode, problem);
    });
  const audit = deps.audit;
  if (audit) {
    app.addHook("onResponse", async (req, reply) => {
      if (!req.url.startsWith("/v1/")) return;
      const route = req.routeOptions.url ?? req.url.split("?")[0]!;
      const id = (req.params as { id?: string } | undefined)?.id;
      const c = req.client;
      void audit.append({
        at: new Date().toISOString(),
        kind: "http",
        action: `${req.method} ${route}`,
        actor: c ? { sub: c.sub, name: c.name, role: c.role, tenant: c.tenant } : undefined,
        keyId: route.startsWith("/v1/keys/") ? id : undefined,
        operationId: route.startsWith("/v1/operations/") ? id : req.auditOperationId,
        result: String(reply.statusCode),
        reason: req.auditReason,
      });
    });
  }
  await app.register(auth, deps.auth);
  await app.register(healthRoutes);
  await app.register(keyRoutes);
  await app.register(operationRoutes);
  await app.register(deadLetterRoutes);
  await app.register(statusRoutes, {
    audit: audit ? new AuditWatch((from, n) => audit.verify(from, n)) : undefined,
  });
  await app.register(consoleRoutes);
  await app.register(eventRoutes, { feed: deps.events ?? noEvents, keepAliveMs: deps.eventsKeepAliveMs });
  await app.register(webhookRoutes, { access: deps.webhooks ?? noWebhooks });
  await app.register(credentialRoutes, {
    authorities: deps.auth.authorities,
    revocations: deps.auth.revocations,
    credentials: deps.credentials,
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app as unknown as FastifyInstance;
}

/**
 * On close, destroys the connections that never sent a request (a preconnecting client's): Node
 * counts them neither idle nor busy, so they would hold up the server's close until its header
 * timeout. Connections with a request in flight still finish it.
 */
function closeUnusedSocketsOnClose(app: FastifyInstance): void {
  const unused = new Set<Socket>();
  app.server.on("connection", (socket: Socket) => {
    unused.add(socket);
    socket.once("close", () => unused.delete(socket));
  });
  app.server.on("request", (req: IncomingMessage) => unused.delete(req.socket));
  app.addHook("preClose", async () => {
    for (const socket of unused) socket.destroy();
  });
}

/** A validation error as one problem; a value outside an enum names the allowed values. */
function validationProblem(err: FastifyError): Problem {
  const first = err.validation?.[0];
  const allowed = (first?.params as { allowedValues?: unknown[] } | undefined)?.allowedValues;
  if (first?.keyword === "enum" && allowed) {
    const field = first.instancePath.replace(/^\//, "").replaceAll("/", ".") || "value";
    return new Problem("invalid-request", `${field} must be one of: ${allowed.join(", ")}`, { allowed });
  }
  return new Problem("invalid-request", err.message);
}
