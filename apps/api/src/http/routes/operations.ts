/**
 * Operation routes: read an operation, optionally waiting for its end.
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { actorOf } from "../actor.js";
import { presentOperation } from "../present.js";
import { Operation, OperationParams, problemResponses, WaitQuery } from "../schemas.js";

/** Registers /v1/operations routes. */
export const operationRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
