/**
 * Key routes: create (DKG), list, show, sign, refresh. The three that start an operation answer 202
 * with it pending; with `Prefer: wait=N` (RFC 7240) they hold the answer up to N seconds for its
 * end and answer 200 once it ended, so a client signs with one request instead of two.
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OperationRecord } from "../../domain/records.js";
import { actorOf } from "../actor.js";
import { MAX_PREFERRED_WAIT_S, preferredWaitSeconds } from "../prefer.js";
import { presentKey, presentOperation } from "../present.js";
import { CreateKeyBody, Key, KeyParams, Operation, problemResponses, SignBody } from "../schemas.js";

const idempotency = Type.Object({
  "idempotency-key": Type.Optional(Type.String({ maxLength: 200 })),
  prefer: Type.Optional(
    Type.String({
      description: `\`wait=N\` (RFC 7240): hold the answer up to N seconds (at most ${MAX_PREFERRED_WAIT_S}) for the operation's end`,
    }),
  ),
});

/**
 * The started operation: 202 while pending, 200 once it ended (after the preferred wait, if any).
 * The wait is advisory: the operation is accepted (and counted against the pending bound) before
 * it, and a failure while waiting answers the accepted operation as it was, never an error.
 */
async function answer(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply, op: OperationRecord) {
  req.auditOperationId = op.id;
  const wait = preferredWaitSeconds(req.headers.prefer);
  let cur = op;
  if (wait > 0 && op.status === "pending") {
    app.acceptedOperation?.(op.id);
    cur = await app.custody.operation(actorOf(req), op.id, wait * 1000).catch((e: unknown) => {
      req.log.warn(
        { operationId: op.id, err: String(e) },
        "waiting for the operation failed; answering it pending",
      );
      return op;
    });
  }
  if (wait > 0) reply.header("preference-applied", `wait=${wait}`);
  return reply.code(cur.status === "pending" ? 202 : 200).send(presentOperation(cur));
}

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
        response: { 200: Operation, 202: Operation, ...problemResponses },
      },
    },
    async (req, reply) => {
      return answer(
        app,
        req,
        reply,
        await app.custody.createKey(actorOf(req), req.body, req.headers["idempotency-key"]),
      );
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
        response: { 200: Operation, 202: Operation, ...problemResponses },
      },
    },
    async (req, reply) => {
      const op = await app.custody.sign(
        actorOf(req),
        req.params.id,
        req.body,
        req.headers["idempotency-key"],
      );
      return answer(app, req, reply, op);
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
        response: { 200: Operation, 202: Operation, ...problemResponses },
      },
    },
    async (req, reply) => {
      const op = await app.custody.refresh(actorOf(req), req.params.id, req.headers["idempotency-key"]);
      return answer(app, req, reply, op);
    },
  );
};
