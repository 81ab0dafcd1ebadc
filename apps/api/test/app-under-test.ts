/**
 * The HTTP app with stand-ins for everything behind it (use cases, readiness, stores), for tests of
 * the HTTP layer itself: authentication, OpenAPI, TLS. Tests override what they exercise.
 */
import { createAuthority } from "@custody/credentials";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { type AppDeps, buildApp } from "../src/http/app.js";

/** Builds the app; every dependency not given is an inert stand-in (no parties, no records). */
export function appUnderTest(overrides: Partial<AppDeps> = {}): Promise<FastifyInstance> {
  return buildApp({
    service: {} as never,
    ready: () => ({ ok: true, liveParties: [1, 2, 3] }),
    logger: pino({ level: "silent" }),
    auth: {
      authorities: [createAuthority().publicKey],
      nonces: { remember: async () => true },
      revocations: { isRevoked: async () => false, revoke: async () => ({}) as never },
    },
    deadLetters: {
      list: () => [],
      operations: () => ({ operations: [] }),
      isPending: () => false,
      onSettled: () => {},
      workers: () => [],
    },
    credentials: undefined as never,
    ...overrides,
  });
}
