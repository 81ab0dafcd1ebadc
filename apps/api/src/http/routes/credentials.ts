/**
 * Credential routes. An admin registers a credential it issued (a delegated one, signed with its own
 * key under its own credential, or one the authority issued for its tenant) so that the tenant's
 * admins and auditors can list it; an admin revokes a client credential of its own tenant. From a
 * revocation on the API refuses every request that carries the credential or a credential it issued
 * (401 `revoked`), and so does every party, which reads the same list. Registrations and revocations
 * go into the caller's tenant only, so nobody registers or revokes another tenant's credentials. The
 * API never holds a key that can sign a credential: it checks and records what admins signed.
 * @module
 */
import {
  AuthError,
  CHAIN_SEPARATOR,
  inspectCredential,
  type VerifiedCredential,
  verifyCredential,
} from "@custody/credentials";
import { credentialId } from "@custody/runtime";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import type { TenantCredentials } from "../../domain/credential-registry.js";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import type { Revocations } from "../plugins/auth.js";
import { problemResponses, Revocation, RevokeBody } from "../schemas.js";

/** What the credential routes need. */
export interface CredentialRouteOptions {
  /** Trusted authority public keys: a credential given in full must chain to one of them. */
  readonly authorities: readonly string[];
  readonly revocations: Revocations;
  readonly credentials: TenantCredentials;
}

/** Body of POST /v1/credentials. */
const RegisterBody = Type.Object(
  {
    credential: Type.String({
      minLength: 1,
      maxLength: 16_384,
      description:
        "A credential the caller issued (delegated under the caller's own credential), or one the authority issued for the caller's tenant",
    }),
  },
  { additionalProperties: false },
);

/** A credential as the registry shows it (the SDK's CredentialView). */
const CredentialView = Type.Object({
  id: Type.String({ description: "hex SHA-256 of the credential under the custody/credential-id/v1 tag" }),
  name: Type.String(),
  role: Type.Union([Type.Literal("admin"), Type.Literal("signer"), Type.Literal("auditor")]),
  tenant: Type.String(),
  keys: Type.Array(Type.String()),
  subject: Type.String({ description: "Public key (U…) of the client holding it" }),
  issuer: Type.String({
    description: "Authority (O…) or, for a delegated credential, the issuing admin (U…)",
  }),
  issuedAt: Type.String(),
  expiresAt: Type.String(),
  revoked: Type.Optional(
    Type.Object({
      at: Type.String(),
      reason: Type.String({ description: "Prefixed `issuer revoked: ` when the issuer's credential was" }),
    }),
  ),
});
type CredentialView = Static<typeof CredentialView>;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Registers /v1/credentials routes. */
export const credentialRoutes: FastifyPluginAsyncTypebox<CredentialRouteOptions> = async (app, o) => {
  /** The view of a checked credential, with the revocation that applies to it. */
  async function view(tenant: string, credential: string, v: VerifiedCredential): Promise<CredentialView> {
    const r = await o.credentials.revocationOf(tenant, credential);
    const id = v.chain[v.chain.length - 1]!;
    return {
      id,
      name: v.name,
      role: v.role,
      tenant: v.tenant,
      keys: [...v.keys],
      subject: v.sub,
      issuer: v.issuer,
      issuedAt: iso(v.iat),
      expiresAt: iso(v.exp),
      ...(r
        ? { revoked: { at: r.revokedAt, reason: r.id === id ? r.reason : `issuer revoked: ${r.reason}` } }
        : {}),
    };
  }

  app.post(
    "/v1/credentials",
    {
      schema: {
        summary: "Register a credential the caller issued, for listing and revocation (admins only)",
        description:
          "A delegated credential must be issued under the caller's own credential (which is registered with it); an authority-issued one must be for the caller's tenant. 201 on the first registration, 200 when it was registered before.",
        tags: ["credentials"],
        body: RegisterBody,
        response: { 200: CredentialView, 201: CredentialView, ...problemResponses },
      },
    },
    async (req, reply) => {
      const { claims, request } = actorOf(req);
      if (claims.role !== "admin")
        throw new Problem("forbidden", `role ${claims.role} may not register credentials`);
      const credential = req.body.credential;
      let v: VerifiedCredential;
      try {
        v = verifyCredential(credential, o.authorities);
      } catch (e) {
        if (!(e instanceof AuthError)) throw e;
        throw new Problem("invalid-request", `not a credential this API accepts: ${e.code}`, {
          reason: e.code,
        });
      }
      if (v.tenant !== claims.tenant)
        throw new Problem("forbidden", "the credential belongs to another tenant", {
          reason: "other-tenant",
        });
      const delegated = v.chain.length > 1;
      const issuer = credential.slice(0, credential.indexOf(CHAIN_SEPARATOR));
      if (delegated && issuer !== request.credential)
        throw new Problem("forbidden", "the credential was not issued under the caller's credential", {
          reason: "not-issuer",
        });
      if (delegated) await o.credentials.register(claims.tenant, v.chain[0]!, issuer);
      const { created } = await o.credentials.register(
        claims.tenant,
        v.chain[v.chain.length - 1]!,
        credential,
      );
      reply.code(created ? 201 : 200);
      return view(claims.tenant, credential, v);
    },
  );

  app.get(
    "/v1/credentials",
    {
      schema: {
        summary:
          "The credentials registered for the caller's tenant, with their revocation state (admins and auditors)",
        tags: ["credentials"],
        response: { 200: Type.Object({ credentials: Type.Array(CredentialView) }), ...problemResponses },
      },
    },
    async (req) => {
      const { claims } = actorOf(req);
      if (claims.role !== "admin" && claims.role !== "auditor")
        throw new Problem("forbidden", `role ${claims.role} may not list credentials`);
      const checked = (await o.credentials.registered(claims.tenant)).flatMap((r) => {
        try {
          const v = inspectCredential(r.credential, o.authorities);
          return v.tenant === claims.tenant ? [{ credential: r.credential, v }] : [];
        } catch {
          return []; // no longer chains to a trusted authority: nothing it could do is accepted
        }
      });
      const views = await Promise.all(checked.map((c) => view(claims.tenant, c.credential, c.v)));
      views.sort((a, b) => a.issuedAt.localeCompare(b.issuedAt) || a.id.localeCompare(b.id));
      return { credentials: views };
    },
  );

  app.post(
    "/v1/credentials/revoke",
    {
      schema: {
        summary: "Revoke a client credential of the caller's tenant (admins only)",
        description:
          "Give the credential itself or its id. Revoking is final and idempotent: a second revocation returns the first record. Revoking a credential also revokes every credential delegated under it.",
        tags: ["credentials"],
        body: RevokeBody,
        response: { 200: Revocation, ...problemResponses },
      },
    },
    async (req) => {
      const { claims } = actorOf(req);
      if (claims.role !== "admin")
        throw new Problem("forbidden", `role ${claims.role} may not revoke credentials`);
      const body = req.body;
      let id: string;
      if ("credential" in body) {
        let target: VerifiedCredential;
        try {
          target = inspectCredential(body.credential, o.authorities);
        } catch (e) {
          if (!(e instanceof AuthError)) throw e;
          throw new Problem("invalid-request", `not a credential this API accepts: ${e.code}`, {
            reason: e.code,
          });
        }
        if (target.tenant !== claims.tenant)
          throw new Problem("forbidden", "the credential belongs to another tenant");
        id = credentialId(body.credential);
      } else id = body.id;
      const r = await o.revocations.revoke(claims.tenant, id, body.reason ?? "");
      return { id: r.id, tenant: claims.tenant, revokedAt: r.revokedAt, reason: r.reason };
    },
  );
};
