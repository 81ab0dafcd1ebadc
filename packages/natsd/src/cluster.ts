/**
 * A local JetStream cluster: `size` nats-server processes on loopback, each with its own server
 * name, store directory and ports, routed to each other. Ports are picked up front (bound to port 0
 * and released), so every node's config names its peers before any node starts, and a restarted
 * node comes back on the same ports with the same store. A size of 1 is a plain single server.
 * @module
 */
import { createServer } from "node:net";
import { join } from "node:path";
import type { ConfValue } from "./conf.js";
import { NatsServer } from "./server.js";

/** How to run a cluster. */
export interface NatsClusterOptions {
  /** Parent directory; node `i` lives in `<dir>/n<i>` (a single server directly in `dir`). */
  readonly dir: string;
  /** Number of servers. Default 3 (the smallest cluster that survives losing one). */
  readonly size?: number;
  /** Cluster name (the `cluster.name` of every node), or the server name of a single server. */
  readonly name?: string;
  /** Extra top-level configuration shared by every node (accounts, limits...). */
  readonly config?: Record<string, ConfValue | undefined>;
  /** The routes' `tls` block ({@link routeTlsConfig}); without it routes run without TLS. */
  readonly routeTls?: Record<string, ConfValue>;
  /** Configuration of one node given its directory (e.g. the node's own resolver store). */
  readonly nodeConfig?: (nodeDir: string) => Record<string, ConfValue | undefined>;
  /** How long each node may take to become healthy. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/** Asks the OS for a free loopback TCP port. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** A running group of nats-server processes that form one JetStream cluster. */
export class NatsCluster {
  private constructor(
    readonly servers: readonly NatsServer[],
    /** `nats-route://127.0.0.1:<port>` of every node's route listener (none for a single server). */
    readonly routeUrls: readonly string[],
  ) {}

  /** Starts every node at once (a clustered node is healthy only once a meta leader exists). */
  static async start(options: NatsClusterOptions): Promise<NatsCluster> {
    const size = options.size ?? 3;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`invalid cluster size ${size}`);
    const ports = new Set<number>();
    while (ports.size < size * 3) ports.add(await freePort());
    const free = [...ports];
    const nodes = Array.from({ length: size }, (_, i) => ({
      name: `n${i + 1}`,
      port: free[3 * i]!,
      httpPort: free[3 * i + 1]!,
      routePort: free[3 * i + 2]!,
    }));
    const dirOf = (node: { name: string }) => (size === 1 ? options.dir : join(options.dir, node.name));
    const servers = await Promise.all(
      nodes.map((node) =>
        NatsServer.start({
          dir: dirOf(node),
          name: size === 1 ? (options.name ?? "custody") : node.name,
          port: node.port,
          httpPort: node.httpPort,
          startTimeoutMs: options.startTimeoutMs ?? 30_000,
          config: {
            ...options.config,
            ...options.nodeConfig?.(dirOf(node)),
            ...(size === 1
              ? {}
              : {
                  cluster: {
                    // Routes trust their own CA, never the clients' (see routeTlsConfig).
                    ...(options.routeTls ? { tls: options.routeTls } : {}),
                    name: options.name ?? "custody",
                    listen: `127.0.0.1:${node.routePort}`,
                    routes: nodes
                      .filter((n) => n !== node)
                      .map((n) => `nats-route://127.0.0.1:${n.routePort}`),
                  },
                }),
          },
        }),
      ),
    );
    return new NatsCluster(
      servers,
      size === 1 ? [] : nodes.map((n) => `nats-route://127.0.0.1:${n.routePort}`),
    );
  }

  /** Client URLs of every node (give all of them to clients, so they fail over). */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** The node with this server name (`n1`, `n2`, ...). */
  node(name: string): NatsServer {
    const s = this.servers.find((x) => x.name === name);
    if (!s) throw new Error(`no node ${name}`);
    return s;
  }

  /** Stops every node. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  /** Kills every node at once (SIGKILL: no lame duck, no flush). */
  async crash(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.crash()));
  }

  /** Stops every node (unless already down), then starts them all again on the same ports and stores. */
  async restart(): Promise<void> {
    await this.stop();
    await Promise.all(this.servers.map((s) => s.restart()));
  }
}
