/**
 * The authenticated caller of a request, as the domain layer needs it.
 * @module
 */
import type { FastifyRequest } from "fastify";
import type { Actor } from "../domain/service.js";
import { Problem } from "../problems.js";

/** The actor of an authenticated request; 401 when the auth plugin did not run. */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.client || !req.signedRequest) throw new Problem("unauthorized", "request is not authenticated");
  return { claims: req.client, request: req.signedRequest };
}
