/**
 * A plain HTTP listener for Prometheus scrapes: `GET /metrics` answers the rendered registry, every
 * other path 404. Kept apart from the API's port so that metrics can stay on a private interface.
 * @module
 */
import { createServer, type Server } from "node:http";

/** Where to listen: `host:port` (port 0 picks a free one). */
export interface MetricsListen {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `:port` (loopback). */
export function parseListen(text: string): MetricsListen {
  const m = /^(.*):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65_535) throw new Error(`expected host:port, got ${text}`);
  return { host: m[1] || "127.0.0.1", port };
}

/** A running metrics listener. */
export interface MetricsServer {
  /** The URL of its `/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `render()` (Prometheus text format of `contentType`) at `/metrics`. */
export async function serveMetrics(
  listen: MetricsListen,
  render: () => Promise<string>,
  contentType: string,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    render().then(
      (body) => res.writeHead(200, { "content-type": contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
