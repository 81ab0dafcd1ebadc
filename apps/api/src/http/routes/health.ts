/**
 * Liveness and readiness probes.
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";

/** Registers /healthz and /readyz. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/healthz",
    {
      schema: {
        summary: "The process is alive",
        tags: ["health"],
        response: { 200: Type.Object({ status: Type.String() }) },
      },
    },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        summary:
          "Ready (200) once connected to NATS with at least two live parties (a quorum for any key); lists them",
        tags: ["health"],
        response: {
          200: Type.Object({ status: Type.String(), liveParties: Type.Array(Type.Integer()) }),
          503: Type.Object({ status: Type.String(), liveParties: Type.Array(Type.Integer()) }),
        },
      },
    },
    async (_req, reply) => {
      const ready = app.custodyReady();
      return reply
        .code(ready.ok ? 200 : 503)
        .send({ status: ready.ok ? "ready" : "not-ready", liveParties: ready.liveParties });
    },
  );
};
