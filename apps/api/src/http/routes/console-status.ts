/**
 * GET /v1/status: what the operator console shows beyond keys and operations, for admins and
 * auditors: the tenant's parties and workers with their liveness (from heartbeats), and the audit
 * chain's verification status. Read-only.
 * @module
 */
import { MISSED_HEARTBEATS } from "@custody/runtime";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AuditChainStatus, AuditWatch } from "../../domain/audit-watch.js";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import { problemResponses } from "../schemas.js";

/** Options of the status route. */
export interface StatusRouteOptions {
  /** The audit chain's status; without it the chain reads as `unavailable`. */
  readonly audit?: AuditWatch;
}

const Party = Type.Object({
  party: Type.Integer(),
  live: Type.Boolean({ description: "At least one of its workers is live" }),
  liveWorkers: Type.Integer(),
});

const Worker = Type.Object({
  party: Type.Integer(),
  workerId: Type.String(),
  live: Type.Boolean({ description: `Heard within ${MISSED_HEARTBEATS} heartbeat intervals` }),
  lastSeen: Type.String({ description: "When its last heartbeat arrived (ISO)" }),
  intervalMs: Type.Integer({ description: "Its heartbeat interval" }),
  activeSessions: Type.Integer(),
});

const AuditStatus = Type.Object(
  {
    status: Type.Union(
      ["intact", "verifying", "broken", "unavailable"].map((s) => Type.Literal(s)),
      {
        description:
          "intact: every entry in the stream links; verifying: no broken link yet, older entries still being checked; broken: a link does not hold; unavailable: the stream could not be read",
      },
    ),
    verified: Type.Integer({ description: "Entries checked whose links hold" }),
    entries: Type.Integer({ description: "Entries in the chain when last read" }),
    checkedAt: Type.String(),
    brokenAt: Type.Optional(Type.Integer({ description: "Sequence of the first entry that does not link" })),
    reason: Type.Optional(Type.String()),
  },
  { description: "The audit hash chain (of the whole deployment, every tenant's requests in one chain)" },
);

/** Most workers one status lists (live ones first, then the most recently heard). */
export const MAX_STATUS_WORKERS = 256;

const Status = Type.Object({
  ready: Type.Boolean({ description: "As GET /readyz: connected, and a quorum of parties live" }),
  parties: Type.Array(Party, { description: "Parties with a worker heard serving the tenant, ascending" }),
  workers: Type.Array(Worker, {
    maxItems: MAX_STATUS_WORKERS,
    description: `At most ${MAX_STATUS_WORKERS}: live ones first, then the most recently heard`,
  }),
  omittedWorkers: Type.Optional(
    Type.Integer({ description: "Workers heard but left out of `workers` (only when some were)" }),
  ),
  audit: AuditStatus,
});

const noAudit = (): AuditChainStatus => ({
  status: "unavailable",
  verified: 0,
  entries: 0,
  checkedAt: new Date().toISOString(),
  reason: "this API keeps no audit trail",
});

/** Registers GET /v1/status. */
export const statusRoutes: FastifyPluginAsyncTypebox<StatusRouteOptions> = async (app, o) => {
  app.get(
    "/v1/status",
    {
      schema: {
        summary:
          "Parties and workers of the caller's tenant with their liveness, and the audit chain's status",
        description: "Admins and auditors only. Liveness comes from the workers' heartbeats.",
        tags: ["health"],
        response: { 200: Status, ...problemResponses },
      },
    },
    async (req) => {
      const { claims } = actorOf(req);
      if (claims.role !== "admin" && claims.role !== "auditor")
        throw new Problem("forbidden", `role ${claims.role} may not read the deployment status`);
      const now = Date.now();
      const seen = app.deadLetters.workers(claims.tenant).map((w) => ({
        party: w.party,
        workerId: w.workerId,
        live: now - w.lastSeenMs <= w.intervalMs * MISSED_HEARTBEATS,
        lastSeenMs: w.lastSeenMs,
        intervalMs: w.intervalMs,
        activeSessions: w.activeSessions,
      }));
      const parties = [...new Set(seen.map((w) => w.party))]
        .sort((a, b) => a - b)
        .map((party) => {
          const liveWorkers = seen.filter((w) => w.party === party && w.live).length;
          return { party, live: liveWorkers > 0, liveWorkers };
        });
      // Live workers first, then the most recently heard, at most MAX_STATUS_WORKERS of them.
      const workers = seen
        .sort((a, b) => Number(b.live) - Number(a.live) || b.lastSeenMs - a.lastSeenMs)
        .slice(0, MAX_STATUS_WORKERS)
        .sort((a, b) => a.party - b.party || a.workerId.localeCompare(b.workerId))
        .map(({ lastSeenMs, ...w }) => ({ ...w, lastSeen: new Date(lastSeenMs).toISOString() }));
      return {
        ready: app.custodyReady().ok,
        parties,
        workers,
        ...(seen.length > workers.length ? { omittedWorkers: seen.length - workers.length } : {}),
        audit: o.audit ? await o.audit.status() : noAudit(),
      };
    },
  );
};
