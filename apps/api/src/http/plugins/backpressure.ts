/**
 * Backpressure: an API instance admits no more work than it has seen through, and answers
 * `429 rate-limited` with `Retry-After` instead of queueing without bound.
 *
 * - Pending bound: the instance tracks the operations it accepted (202) until the operations
 *   index sees them leave `pending`. With `maxPending` of them still pending, a request that
 *   creates work (DKG, sign, refresh) is refused.
 * - In-flight bound: at most `maxInFlight` requests are handled at once (a publish riding out a
 *   leader election holds its request for up to 30 s); more are refused at once. Health probes
 *   are exempt.
 *
 * Both limits are per instance, so memory stays bounded whatever the arrival rate; a deployment's
 * work in flight is at most instances × `maxPending`.
 * @module
 */
import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import { Problem } from "../../problems.js";

/** Limits of one API instance. */
export interface BackpressureOptions {
  /** Accepted operations that may be pending at once. Default 64. */
  readonly maxPending?: number;
  /** Requests handled at once. Default 256. */
  readonly maxInFlight?: number;
  /** Seconds a refused client should wait (the `Retry-After` header). Default 1. */
  readonly retryAfterSeconds?: number;
}

/** Routes that create work (matched on the route pattern, POST only). */
const WORK_ROUTES = new Set(["/v1/keys", "/v1/keys/:id/sign", "/v1/keys/:id/refresh"]);
/** Routes never refused (probes must answer under overload). */
const EXEMPT_ROUTES = new Set(["/healthz", "/readyz"]);
/** After this long an accepted operation the index does not show pending is forgotten (ms). */
const SETTLED_UNSEEN_MS = 30_000;
/** An operation is forgotten after this long even if still pending (ms). */
const TRACK_AT_MOST_MS = 10 * 60_000;

/** Options of the plugin: the limits and where the end of operations is learnt. */
export interface BackpressurePluginOptions extends BackpressureOptions {
  /** Registers a listener for operations leaving `pending`. */
  readonly onSettled: (listener: (operationId: string) => void) => void;
  /** True while an operation is pending (an in-memory lookup; a fallback for missed notices). */
  readonly isPending: (operationId: string) => boolean;
}

/** Reads limits from `CUSTODY_MAX_PENDING_OPS` and `CUSTODY_MAX_IN_FLIGHT` (unset: defaults). */
export function backpressureFromEnv(env: NodeJS.ProcessEnv): BackpressureOptions {
  const int = (name: string) => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  return { maxPending: int("CUSTODY_MAX_PENDING_OPS"), maxInFlight: int("CUSTODY_MAX_IN_FLIGHT") };
}

/** Operations accepted by this instance and not yet seen finished. */
class AcceptedOperations {
  private readonly accepted = new Map<string, number>();

  add(id: string): void {
    if (!this.accepted.has(id)) this.accepted.set(id, Date.now());
  }

  settled(id: string): void {
    this.accepted.delete(id);
  }

  /**
   * True when `max` accepted operations are still pending. Operations normally leave through
   * `settled`; one whose notice was missed (it ended before it was added) is forgotten once the
   * index has long stopped showing it pending, and any after an upper bound.
   */
  full(max: number, isPending: (id: string) => boolean): boolean {
    if (this.accepted.size < max) return false;
    const now = Date.now();
    for (const [id, at] of this.accepted) {
      const age = now - at;
      if (age > TRACK_AT_MOST_MS || (age > SETTLED_UNSEEN_MS && !isPending(id))) this.accepted.delete(id);
    }
    return this.accepted.size >= max;
  }
}

const plugin: FastifyPluginAsync<BackpressurePluginOptions> = async (app, o) => {
  const maxPending = o.maxPending ?? 64;
  const maxInFlight = o.maxInFlight ?? 256;
  const retryAfter = o.retryAfterSeconds ?? 1;
  const accepted = new AcceptedOperations();
  o.onSettled((id) => accepted.settled(id));
  let inFlight = 0;

  // Both checks run first thing, before authentication, body parsing or any read or write, so a
  // refusal costs next to nothing however many arrive.
  app.addHook("onRequest", async (req, reply) => {
    const route = req.routeOptions.url ?? "";
    if (EXEMPT_ROUTES.has(route)) return;
    inFlight++;
    reply.raw.once("close", () => inFlight--);
    if (inFlight > maxInFlight)
      throw new Problem("rate-limited", "too many requests in flight; retry later", {}, retryAfter);
    if (req.method === "POST" && WORK_ROUTES.has(route) && accepted.full(maxPending, o.isPending))
      throw new Problem(
        "rate-limited",
        `${maxPending} accepted operations are still pending; retry later`,
        {},
        retryAfter,
      );
  });
  // A route that holds its answer (`Prefer: wait`) counts its operation before holding it.
  app.decorate("acceptedOperation", (id: string) => accepted.add(id));
  app.addHook("onSend", async (req, reply, payload) => {
    if (reply.statusCode !== 202 || req.method !== "POST" || !WORK_ROUTES.has(req.routeOptions.url ?? ""))
      return payload;
    if (typeof payload === "string") {
      const id = (JSON.parse(payload) as { id?: unknown }).id;
      if (typeof id === "string") accepted.add(id);
    }
    return payload;
  });
};
declare module "fastify" {
  interface FastifyInstance {
    /** Counts operation `id` as accepted by this instance (pending bound); without the plugin, absent. */
    acceptedOperation?: (id: string) => void;
  }
}

/** The backpressure plugin (its hooks apply to the whole application); register it before the routes. */
export const backpressure = fp(plugin, { name: "custody-backpressure" });
