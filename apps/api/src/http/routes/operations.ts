/**
 * Operation routes: list the tenant's operations (newest first, filtered, paged) and read one,
 * optionally waiting for its end.
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import { BadCursorError } from "../../domain/operation-index.js";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import { presentOperation } from "../present.js";
import { Operation, OperationParams, problemResponses, WaitQuery } from "../schemas.js";

/** Query of GET /v1/operations. */
const ListQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Union([Type.Literal("pending"), Type.Literal("succeeded"), Type.Literal("failed")]),
    ),
    type: Type.Optional(Type.Union([Type.Literal("dkg"), Type.Literal("sign"), Type.Literal("refresh")])),
    keyId: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Page size (default 50)" })),
    cursor: Type.Optional(
      Type.String({
        maxLength: 512,
        pattern: "^[A-Za-z0-9_-]+$",
        description: "`next` of the previous page",
      }),
    ),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

/** A page of operations. */
const OperationPage = Type.Object({
  operations: Type.Array(Operation),
  next: Type.Optional(Type.String({ description: "Cursor of the next page; absent on the last page" })),
});

/** Registers /v1/operations routes. */
export const operationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get<{ Querystring: ListQuery }>(
    "/v1/operations",
    {
      schema: {
        summary: "List the tenant's operations, newest first; filter by status, type and key; paged",
        description:
          "The API keeps the newest 50,000 operations of each tenant in its index; a just-accepted operation appears within moments.",
        tags: ["operations"],
        querystring: ListQuery,
        response: { 200: OperationPage, ...problemResponses },
      },
    },
    async (req) => {
      const { claims } = actorOf(req);
      const q = req.query;
      try {
        const page = app.deadLetters.operations(claims.tenant, {
          status: q.status,
          type: q.type,
          keyId: q.keyId,
          limit: q.limit ?? 50,
          cursor: q.cursor,
        });
        return {
          operations: page.operations.map(presentOperation),
          ...(page.next ? { next: page.next } : {}),
        };
      } catch (e) {
        if (e instanceof BadCursorError) throw new Problem("invalid-request", e.message);
        throw e;
      }
    },
  );

  app.get(
    "/v1/operations/:id",
    {
      schema: {
        summary: "Show an operation; `wait` blocks up to that many seconds for a terminal state",
        tags: ["operations"],
        params: OperationParams,
        querystring: WaitQuery,
        response: { 200: Operation, ...problemResponses },
      },
    },
    async (req) =>
      presentOperation(
        await app.custody.operation(actorOf(req), req.params.id, (req.query.wait ?? 0) * 1000),
      ),
  );
};
