/**
 * The operator console's page: static HTML, JavaScript and CSS, public because they hold no data
 * and no secret. The page signs its own read requests in the browser with a credential the
 * operator loads into the tab (docs/console.md); every data call goes to the signed /v1 routes.
 * Served with a strict policy: scripts, styles and connections from this origin only (no inline
 * script or style), never framed, never cached, no MIME sniffing, no referrer.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsync } from "fastify";

/** The assets' directory: the package's `src/console`, seen from this compiled file (`dist/src/http/routes`). */
const ASSETS = fileURLToPath(new URL("../../../../src/console/", import.meta.url));

/** The Content-Security-Policy of the console's responses. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** URL path → asset file and its media type. */
const FILES: Record<string, { file: string; type: string }> = {
  "/console": { file: "index.html", type: "text/html; charset=utf-8" },
  "/console/console.js": { file: "console.js", type: "text/javascript; charset=utf-8" },
  "/console/sign.js": { file: "sign.js", type: "text/javascript; charset=utf-8" },
  "/console/console.css": { file: "console.css", type: "text/css; charset=utf-8" },
  "/console/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};

/** Registers GET /console and its assets (read once, at registration). */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const body = readFileSync(`${ASSETS}${file}`);
    app.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply.headers(HEADERS).type(type).send(body),
    );
  }
};
