/**
 * The dead-letter view: a tenant's failed operations, newest first, each with its typed reason (a
 * party's failure, a work item given up after its last delivery, or one that never reached the
 * queue). For operators: admins and auditors only.
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import { presentOperation } from "../present.js";
import { Operation, problemResponses } from "../schemas.js";

const DeadLetterQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "Most entries to return" })),
  },
  { additionalProperties: false },
);

/** Registers GET /v1/dead-letters. */
export const deadLetterRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/v1/dead-letters",
    {
      schema: {
        summary: "Failed operations of the caller's tenant, newest first, with their typed reasons",
        tags: ["operations"],
        querystring: DeadLetterQuery,
        response: { 200: Type.Object({ operations: Type.Array(Operation) }), ...problemResponses },
      },
    },
    async (req) => {
      const { claims } = actorOf(req);
      if (claims.role !== "admin" && claims.role !== "auditor")
        throw new Problem("forbidden", `role ${claims.role} may not read dead letters`);
      return {
        operations: app.deadLetters.list(claims.tenant, req.query.limit ?? 100).map(presentOperation),
      };
    },
  );
};
