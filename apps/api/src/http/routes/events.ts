/**
 * GET /v1/events: server-sent events of every change of the caller's tenant's operations, from a
 * watch of the operations bucket. Each event has `id:` = the bucket revision, `event: operation`
 * and `data:` the operation as GET /v1/operations/{id} returns it. `Last-Event-ID` (or `?after=`)
 * resumes after that revision: every operation changed since comes with its latest state (the
 * bucket keeps one version per operation, so states overwritten meanwhile are coalesced). Without
 * either, the stream starts at the current revision. A `: keep-alive` comment goes out every 15 s;
 * the watch stops when the client disconnects, when it reads too slowly, and when the API stops.
 * @module
 */
import { PassThrough } from "node:stream";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import type { OperationRecord } from "../../domain/records.js";
import type { OperationWatch } from "../../domain/repository.js";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import { operationView } from "../present.js";
import { problemResponses } from "../schemas.js";

/** Where a tenant's operation changes come from. */
export interface EventFeed {
  /** Follows the tenant's operations after `afterRevision` (default: from now on). */
  watchOperations(tenant: string, afterRevision?: number): Promise<OperationWatch>;
}

/** Options of the events route. */
export interface EventRouteOptions {
  readonly feed: EventFeed;
  /** Interval of keep-alive comments (ms). Default 15 s. */
  readonly keepAliveMs?: number;
}

const EventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: "Resume after this revision (as Last-Event-ID does)" }),
    ),
    keyId: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" })),
    type: Type.Optional(Type.Union([Type.Literal("dkg"), Type.Literal("sign"), Type.Literal("refresh")])),
  },
  { additionalProperties: false },
);
type EventsQuery = Static<typeof EventsQuery>;

/** Bytes a client may leave unread before its stream is ended (it reconnects with Last-Event-ID). */
const MAX_UNREAD = 1024 * 1024;

/** The revision a `Last-Event-ID` header names. @throws Problem for anything but a revision */
function lastEventId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new Problem("invalid-request", "Last-Event-ID must be an event id");
  return Number(v);
}

/** One server-sent event. */
const frame = (revision: number, op: unknown) =>
  `id: ${revision}\nevent: operation\ndata: ${JSON.stringify(op)}\n\n`;

/** Registers GET /v1/events. */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRouteOptions> = async (app, o) => {
  const open = new Set<PassThrough>();
  // Ends every stream before the server waits for its connections to close.
  app.addHook("preClose", async () => {
    for (const s of open) s.end();
  });

  app.get<{ Querystring: EventsQuery }>(
    "/v1/events",
    {
      schema: {
        summary: "Server-sent events of every change of the tenant's operations (any role)",
        description:
          "`text/event-stream`: each event has `id:` (the revision), `event: operation` and `data:` the operation as GET /v1/operations/{id} returns it. Send `Last-Event-ID` (or `?after=`) to resume after a revision. A `: keep-alive` comment comes every 15 s.",
        tags: ["events"],
        querystring: EventsQuery,
        headers: Type.Object({
          "last-event-id": Type.Optional(Type.String({ description: "Resume after this event id" })),
        }),
        response: {
          200: {
            description: "An event stream that runs until the client disconnects",
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
          ...problemResponses,
        },
      },
    },
    async (req, reply) => {
      const { claims } = actorOf(req);
      const after = lastEventId(req.headers["last-event-id"]) ?? req.query.after;
      const { keyId, type } = req.query;
      const watch = await o.feed.watchOperations(claims.tenant, after);
      const stream = new PassThrough();
      open.add(stream);
      const keepAlive = setInterval(() => stream.write(": keep-alive\n\n"), o.keepAliveMs ?? 15_000);
      const close = () => {
        clearInterval(keepAlive);
        watch.stop();
        open.delete(stream);
      };
      stream.once("close", close);
      stream.once("finish", close);
      const wanted = (op: OperationRecord) =>
        op.tenant === claims.tenant &&
        (keyId === undefined || op.keyId === keyId) &&
        (type === undefined || op.type === type);
      void (async () => {
        for await (const { revision, operation } of watch.entries) {
          if (stream.writableEnded || stream.destroyed) break;
          if (!operation || !wanted(operation)) continue;
          stream.write(frame(revision, operationView(operation)));
          if (stream.writableLength > MAX_UNREAD) {
            req.log.warn({}, "event stream client reads too slowly: ended");
            break;
          }
        }
      })()
        .catch((e: unknown) => req.log.warn({ err: String(e) }, "event stream watch failed"))
        .finally(() => stream.end());
      stream.write(": custody events\n\n");
      // The connection ends with the stream (a client reconnects with Last-Event-ID anyway).
      reply.header("connection", "close");
      return reply
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-accel-buffering", "no")
        .send(stream);
    },
  );
};
