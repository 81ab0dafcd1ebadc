/**
 * Credential routes: an admin revokes a client credential of its own tenant. From then on the API
 * refuses every request that carries it (401 `revoked`), and so does every party, which reads the
 * same list. The revocation goes into the caller's tenant's list only, so nobody can revoke
 * another tenant's credentials.
 * @module
 */
import { AuthError, type CredentialClaims, inspectCredential } from "@custody/credentials";
import { credentialId } from "@custody/runtime";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Problem } from "../../problems.js";
import { actorOf } from "../actor.js";
import type { Revocations } from "../plugins/auth.js";
import { problemResponses, Revocation, RevokeBody } from "../schemas.js";

/** What the credential routes need. */
export interface CredentialRouteOptions {
  /** Trusted authority public keys: a credential given in full must chain to one of them. */
  readonly authorities: readonly string[];
  readonly revocations: Revocations;
}

/** Registers /v1/credentials routes. */
export const credentialRoutes: FastifyPluginAsyncTypebox<CredentialRouteOptions> = async (app, o) => {
  app.post(
    "/v1/credentials/revoke",
    {
      schema: {
        summary: "Revoke a client credential of the caller's tenant (admins only)",
        description:
          "Give the credential itself or its id. Revoking is final and idempotent: a second revocation returns the first record.",
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
        let target: CredentialClaims;
        try {
          target = inspectCredential(body.credential, o.authorities);
        } catch (e) {
          if (!(e instanceof AuthError)) throw e;
          throw new Problem("invalid-request", `not a credential this API accepts: ${e.code}`);
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
