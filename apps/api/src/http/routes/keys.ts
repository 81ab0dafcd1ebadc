/**
 * Key routes: create (DKG), list, show, sign, refresh.
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { actorOf } from "../actor.js";
import { presentKey, presentOperation } from "../present.js";
import { CreateKeyBody, Key, KeyParams, Operation, problemResponses, SignBody } from "../schemas.js";

const idempotency = Type.Object({ "idempotency-key": Type.Optional(Type.String({ maxLength: 200 })) });

/** Registers /v1/keys routes. */
export const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "/v1/keys",
    {
      schema: {
        summary: "Create a threshold key by distributed key generation",
        tags: ["keys"],
        body: CreateKeyBody,
        headers: idempotency,
        response: { 202: Operation, ...problemResponses },
      },
    },
    async (req, reply) => {
      const op = await app.custody.createKey(actorOf(req), req.body, req.headers["idempotency-key"]);
      req.auditOperationId = op.id;
      return reply.code(202).send(presentOperation(op));
    },
  );

  app.get(
    "/v1/keys",
    {
      schema: {
        summary: "List keys",
        tags: ["keys"],
        response: { 200: Type.Object({ keys: Type.Array(Key) }), ...problemResponses },
      },
    },
    async (req) => ({ keys: (await app.custody.keys(actorOf(req))).map(presentKey) }),
  );

  app.get(
    "/v1/keys/:id",
    {
      schema: {
        summary: "Show a key",
        tags: ["keys"],
        params: KeyParams,
        response: { 200: Key, ...problemResponses },
      },
    },
    async (req) => presentKey(await app.custody.key(actorOf(req), req.params.id)),
  );

  app.post(
    "/v1/keys/:id/sign",
    {
      schema: {
        summary: "Sign a message, or a batch of up to 256 messages, with a threshold of live parties",
        tags: ["keys"],
        params: KeyParams,
        body: SignBody,
        headers: idempotency,
        response: { 202: Operation, ...problemResponses },
      },
    },
    async (req, reply) => {
      const op = await app.custody.sign(
        actorOf(req),
        req.params.id,
        req.body,
        req.headers["idempotency-key"],
      );
      req.auditOperationId = op.id;
      return reply.code(202).send(presentOperation(op));
    },
  );

  app.post(
    "/v1/keys/:id/refresh",
    {
      schema: {
        summary: "Refresh the key's shares (same public key, next epoch)",
        tags: ["keys"],
        params: KeyParams,
        headers: idempotency,
        response: { 202: Operation, ...problemResponses },
      },
    },
    async (req, reply) => {
      const op = await app.custody.refresh(actorOf(req), req.params.id, req.headers["idempotency-key"]);
      req.auditOperationId = op.id;
      return reply.code(202).send(presentOperation(op));
    },
  );
};
