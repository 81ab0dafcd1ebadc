/**
 * The OpenAPI document's shared parts: how to authenticate (the four signed-request headers as
 * one security requirement, and a description of the signature), a stable operationId for every
 * route, and a description of every response, naming the problem types a status can carry.
 * @module
 */
import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import { type ProblemCode, problemCodes, problemStatus, problemTitle } from "../problems.js";

/** Stable operationIds by `METHOD path` (Fastify's path syntax). Every route has one. */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  "GET /healthz": "getHealth",
  "GET /readyz": "getReadiness",
  "POST /v1/keys": "createKey",
  "GET /v1/keys": "listKeys",
  "GET /v1/keys/:id": "getKey",
  "POST /v1/keys/:id/sign": "signWithKey",
  "POST /v1/keys/:id/refresh": "refreshKey",
  "GET /v1/operations": "listOperations",
  "GET /v1/operations/:id": "getOperation",
  "GET /v1/dead-letters": "listDeadLetters",
  "GET /v1/status": "getStatus",
  "GET /v1/events": "streamEvents",
  "POST /v1/webhooks": "createWebhook",
  "GET /v1/webhooks": "listWebhooks",
  "DELETE /v1/webhooks/:id": "deleteWebhook",
  "GET /v1/webhooks/signing-key": "getWebhookSigningKey",
  "POST /v1/credentials": "registerCredential",
  "GET /v1/credentials": "listCredentials",
  "POST /v1/credentials/revoke": "revokeCredential",
};

/** Routes anyone may call, unsigned. */
const PUBLIC_ROUTES = new Set(["GET /healthz", "GET /readyz"]);

/** The security scheme names: one per signed-request header, all required together. */
const HEADER_SCHEMES = {
  credential: "custody-credential",
  timestamp: "custody-timestamp",
  nonce: "custody-nonce",
  signature: "custody-signature",
} as const;

const AUTH_DESCRIPTION = `
## Authentication

Every \`/v1\` request is signed with the client's Ed25519 key (an NKey seed that never leaves the
client). There are no passwords or bearer tokens. Send four headers:

| header | value |
|---|---|
| \`custody-credential\` | your credential, exactly as issued |
| \`custody-timestamp\` | milliseconds since the Unix epoch (the API accepts ±60 s) |
| \`custody-nonce\` | 32 random lower-case hex digits, never reused |
| \`custody-signature\` | base64url Ed25519 signature over the framed credential digest, method, canonical target, body digest, timestamp and nonce |

The exact bytes, the canonical request target and test vectors are in \`docs/api-auth.md\` of the
repository. The SDK (\`@custody/sdk\`) and the CLI sign for you. "Try it out" on this page cannot
compute signatures: \`custody request-headers <METHOD> <path> [--body FILE]\` prints
fresh headers to paste (valid for 60 s, once).

Refusals are \`application/problem+json\` (RFC 9457) with a stable \`type\`
\`urn:custody:problem:<code>\`; a 401 names its \`reason\` (\`missing\`, \`malformed\`, \`stale\`,
\`bad-signature\`, \`bad-credential\`, \`expired\`, \`replayed\`, \`revoked\`, …).
`;

/** Options of @fastify/swagger: document info, the security schemes, and the per-route transform. */
export const openapiOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: "3.1.0",
    info: {
      title: "Custody API",
      version: "0.1.0",
      description: `Threshold keys (DKG), threshold signing and proactive refresh. Long work returns 202 with an operation to follow (or, with \`Prefer: wait=N\`, 200 once it ended within N seconds); errors are RFC 9457 problem+json.\n${AUTH_DESCRIPTION}`,
    },
    components: {
      securitySchemes: Object.fromEntries(
        Object.entries(HEADER_SCHEMES).map(([what, header]) => [
          header,
          {
            type: "apiKey" as const,
            in: "header",
            name: header,
            description: `Signed-request ${what} header`,
          },
        ]),
      ),
    },
    security: [Object.fromEntries(Object.values(HEADER_SCHEMES).map((h) => [h, []]))],
  },
  transform: ({ schema, url, route }) => {
    const method = Array.isArray(route.method) ? route.method[0]! : route.method;
    const key = `${method} ${url}`;
    const responses = ((schema as { response?: object }).response ?? {}) as Record<
      string,
      Record<string, unknown>
    >;
    return {
      url,
      schema: {
        ...schema,
        operationId: OPERATION_IDS[key],
        ...(PUBLIC_ROUTES.has(key) ? { security: [] } : {}),
        response: Object.fromEntries(
          Object.entries(responses).map(([status, body]) => [
            status,
            body.description === undefined ? { ...body, description: describeStatus(Number(status)) } : body,
          ]),
        ),
      },
    };
  },
};

const SUCCESS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No content",
  202: "Accepted: the returned operation runs on; follow it with GET /v1/operations/{id}?wait=…, or send `Prefer: wait=N` to have the answer held for its end",
};

/** A response description: the success meaning, or the problem types the status can carry. */
export function describeStatus(status: number): string {
  const success = SUCCESS[status];
  if (success) return success;
  const codes = problemCodes().filter((c: ProblemCode) => problemStatus(c) === status);
  const listed = codes.map((c) => `\`urn:custody:problem:${c}\` (${problemTitle(c)})`).join(", ");
  return codes.length > 0 ? `Problem: ${listed}` : "Problem";
}
