/**
 * A scripted HTTP peer for the SDK's tests (a real node:http server on a loopback port, standing in
 * for the API): records every request and answers with the handler's reply.
 * @module
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the peer received. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A reply: status, JSON body (or raw text), extra headers. */
export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

/** A running peer. */
export interface Peer {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** Starts a peer that answers each request with `handler(request, index)`. */
export async function startPeer(handler: (r: Received, index: number) => Reply): Promise<Peer> {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r: Received = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    received.push(r);
    const reply = handler(r, received.length - 1);
    const text = reply.text ?? JSON.stringify(reply.json ?? {});
    res.writeHead(reply.status, {
      "content-type": reply.text !== undefined ? "text/html" : "application/json",
      ...reply.headers,
    });
    res.end(text);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A problem+json reply. */
export const problem = (status: number, code: string, headers?: Record<string, string>): Reply => ({
  status,
  json: { type: `urn:custody:problem:${code}`, title: code, status, detail: `${code} detail` },
  headers,
});
