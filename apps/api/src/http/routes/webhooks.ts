/**
 * Webhook routes: admins subscribe an http(s) URL to the tenant's operation events and remove
 * subscriptions; admins and auditors list them with their delivery state; anyone of the tenant
 * reads the public key that signs every delivery (Ed25519, see docs/events.md).
 * @module
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import {
  EVENT_TYPES,
  WEBHOOK_ID_PATTERN,
  WebhookLimitError,
  type WebhookStore,
  type WebhookSubscription,
  WebhookUrlError,
} from "../../domain/webhooks.js";
import type { WebhookSigner } from "../../domain/webhooks-signing.js";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import { problemResponses } from "../schemas.js";

/** What the routes need of the tenancy. */
export interface WebhookAccess {
  /** The signing key; absent when the API runs without `--webhook-key`. */
  readonly webhookSigner: WebhookSigner | undefined;
  /** The tenant's subscriptions. @throws Problem `not-found` when webhooks are off there */
  webhooks(tenant: string): {
    store: WebhookStore;
    added(sub: WebhookSubscription): void;
    removed(id: string): void;
    head(): Promise<number>;
  };
}

const EventType = Type.Unsafe<(typeof EVENT_TYPES)[number]>({ type: "string", enum: [...EVENT_TYPES] });

const CreateWebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: "http(s) URL that receives the POSTs" }),
    events: Type.Optional(
      Type.Array(EventType, {
        minItems: 1,
        maxItems: EVENT_TYPES.length,
        uniqueItems: true,
        description: "Event types to deliver (default: all)",
      }),
    ),
  },
  { additionalProperties: false },
);
type CreateWebhookBody = Static<typeof CreateWebhookBody>;

const WebhookParams = Type.Object({ id: Type.String({ pattern: WEBHOOK_ID_PATTERN }) });
type WebhookParams = Static<typeof WebhookParams>;

const Subscription = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Optional(Type.Array(Type.String())),
  createdAt: Type.String(),
  createdBy: Type.String({ description: "Credential subject of the admin who created it" }),
});

const DeliveryStateSchema = Type.Object({
  lastAttemptAt: Type.Optional(Type.String()),
  lastStatus: Type.Optional(Type.Integer({ description: "HTTP status of the last attempt" })),
  lastError: Type.Optional(Type.String({ description: "Why the last attempt failed" })),
  lastSuccessAt: Type.Optional(Type.String()),
  consecutiveFailures: Type.Integer(),
  nextRetryAt: Type.Optional(Type.String({ description: "When the failed delivery is tried again" })),
  delivered: Type.Integer(),
  givenUp: Type.Integer({ description: "Deliveries given up after their last attempt" }),
});

const SubscriptionWithState = Type.Intersect([Subscription, Type.Object({ delivery: DeliveryStateSchema })]);

const SigningKey = Type.Object({
  algorithm: Type.Literal("ed25519"),
  publicKey: Type.String({ description: "Raw 32-byte public key, base64url" }),
  publicKeyPem: Type.String({ description: "SPKI PEM (node:crypto createPublicKey takes it)" }),
});

/** Registers /v1/webhooks routes. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ access: WebhookAccess }> = async (app, o) => {
  const adminOnly = (role: string, what: string) => {
    if (role !== "admin") throw new Problem("forbidden", `role ${role} may not ${what}`);
  };

  app.post<{ Body: CreateWebhookBody }>(
    "/v1/webhooks",
    {
      schema: {
        summary: "Subscribe a URL to the tenant's operation events (admins)",
        tags: ["webhooks"],
        body: CreateWebhookBody,
        response: { 201: Subscription, ...problemResponses },
      },
    },
    async (req, reply) => {
      const { claims } = actorOf(req);
      adminOnly(claims.role, "manage webhooks");
      const w = o.access.webhooks(claims.tenant);
      try {
        const sub = await w.store.add({
          url: req.body.url,
          events: req.body.events,
          createdBy: claims.sub,
          fromRevision: await w.head(),
        });
        w.added(sub);
        return reply.code(201).send(sub);
      } catch (e) {
        if (e instanceof WebhookUrlError) throw new Problem("invalid-request", e.message);
        if (e instanceof WebhookLimitError) throw new Problem("conflict", e.message);
        throw e;
      }
    },
  );

  app.get(
    "/v1/webhooks",
    {
      schema: {
        summary: "The tenant's webhook subscriptions with their delivery state (admins, auditors)",
        tags: ["webhooks"],
        response: { 200: Type.Object({ webhooks: Type.Array(SubscriptionWithState) }), ...problemResponses },
      },
    },
    async (req) => {
      const { claims } = actorOf(req);
      if (claims.role !== "admin" && claims.role !== "auditor")
        throw new Problem("forbidden", `role ${claims.role} may not read webhooks`);
      const { store } = o.access.webhooks(claims.tenant);
      const subs = await store.list();
      return {
        webhooks: await Promise.all(subs.map(async (s) => ({ ...s, delivery: await store.state(s.id) }))),
      };
    },
  );

  app.delete<{ Params: WebhookParams }>(
    "/v1/webhooks/:id",
    {
      schema: {
        summary: "Remove a webhook subscription (admins); its pending retries stop",
        tags: ["webhooks"],
        params: WebhookParams,
        response: { 204: Type.Null({ description: "Removed" }), ...problemResponses },
      },
    },
    async (req, reply) => {
      const { claims } = actorOf(req);
      adminOnly(claims.role, "manage webhooks");
      const w = o.access.webhooks(claims.tenant);
      if (!(await w.store.remove(req.params.id)))
        throw new Problem("not-found", `no webhook ${req.params.id}`);
      w.removed(req.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    "/v1/webhooks/signing-key",
    {
      schema: {
        summary: "The Ed25519 public key that signs every webhook delivery (any role)",
        tags: ["webhooks"],
        response: { 200: SigningKey, ...problemResponses },
      },
    },
    async (req) => {
      actorOf(req);
      const signer = o.access.webhookSigner;
      if (!signer)
        throw new Problem(
          "not-found",
          "webhooks are not configured on this API (custody api --webhook-key FILE)",
        );
      return {
        algorithm: "ed25519" as const,
        publicKey: Buffer.from(signer.publicKey).toString("base64url"),
        publicKeyPem: signer.publicKeyPem,
      };
    },
  );
};
