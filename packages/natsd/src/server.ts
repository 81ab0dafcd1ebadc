/**
 * One nats-server process: writes its config into its own directory, starts it on loopback
 * (random free ports the first time, the same ports on restart), waits until it serves, and stops it.
 * The same launcher serves `custody dev` and the integration tests.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findNatsServer } from "./binary.js";
import { type ConfValue, toConf } from "./conf.js";

/** How to run one server. */
export interface NatsServerOptions {
  /** Directory for the config, the JetStream store, the ports file and the log. Created if missing. */
  readonly dir: string;
  /** Unique server name (required for JetStream clustering). */
  readonly name?: string;
  /** Extra top-level configuration (accounts, TLS, cluster, limits...). */
  readonly config?: Record<string, ConfValue | undefined>;
  /** Client port; default: a free port chosen by the server. */
  readonly port?: number;
  /** Monitoring port; default: a free port chosen by the server. */
  readonly httpPort?: number;
  /** How long to wait for the server to serve. Default 20 s. */
  readonly startTimeoutMs?: number;
}

const MiB = 1024 * 1024;

interface Ports {
  nats: string[];
  monitoring?: string[];
}

/** The ports file's content once it is completely written. */
function readPorts(file: string): Ports | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const ports = JSON.parse(readFileSync(file, "utf8")) as Ports;
    return ports.nats?.length && ports.monitoring?.length ? ports : undefined;
  } catch {
    return undefined;
  }
}

/** Raised when a server exits or does not become ready in time. */
export class NatsServerStartError extends Error {
  override readonly name = "NatsServerStartError";
}

/** A running (or stopped) nats-server process. */
export class NatsServer {
  private child: ChildProcess | undefined;
  private ports: { port: number; httpPort: number } | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(private readonly options: NatsServerOptions) {}

  /**
   * Starts a server and resolves once it accepts connections and its health check passes. A server
   * that fails to get there is killed, so a failed start leaves no process behind.
   */
  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const s = new NatsServer(options);
    await s.launchOrKill();
    return s;
  }

  private async launchOrKill(): Promise<void> {
    try {
      await this.launch();
    } catch (e) {
      await this.crash();
      throw e;
    }
  }

  /** `nats://127.0.0.1:<port>` of the client listener. */
  get url(): string {
    if (!this.ports) throw new Error("server not started");
    return `nats://127.0.0.1:${this.ports.port}`;
  }

  /** Server name (unique within a cluster). */
  get name(): string {
    return this.options.name ?? "custody";
  }

  /** Client port. */
  get port(): number {
    if (!this.ports) throw new Error("server not started");
    return this.ports.port;
  }

  /** `http://127.0.0.1:<port>` of the monitoring listener. */
  get monitorUrl(): string {
    if (!this.ports) throw new Error("server not started");
    return `http://127.0.0.1:${this.ports.httpPort}`;
  }

  /** Process id while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Path of the rendered config file. */
  get configPath(): string {
    return join(this.options.dir, "nats-server.conf");
  }

  private renderConfig(): string {
    const o = this.options;
    return toConf({
      server_name: this.name,
      listen: `127.0.0.1:${this.ports?.port ?? o.port ?? -1}`,
      http: `127.0.0.1:${this.ports?.httpPort ?? o.httpPort ?? -1}`,
      ports_file_dir: o.dir,
      log_file: join(o.dir, "nats-server.log"),
      max_payload: 2 * MiB,
      max_pending: 16 * MiB,
      write_deadline: "2s",
      ping_interval: "20s",
      ping_max: 3,
      jetstream: {
        store_dir: join(o.dir, "jetstream"),
        // Caps the sum of every account's JetStream quota (reserved, not allocated).
        max_memory_store: 1024 * MiB,
        max_file_store: 4 * 1024 * 1024 * MiB,
      },
      ...o.config,
    });
  }

  private async launch(): Promise<void> {
    const { dir } = this.options;
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith(".ports")) rmSync(join(dir, f), { force: true });
    writeFileSync(this.configPath, this.renderConfig(), { mode: 0o600 });
    const child = spawn(findNatsServer(), ["-c", this.configPath], { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 20_000);
    const portsFile = join(dir, `nats-server_${child.pid}.ports`);
    // The server may be caught between creating the ports file and writing it: read until it parses.
    let ports: Ports | undefined;
    while (!ports) {
      if (!this.running) throw new NatsServerStartError(`nats-server exited: ${stderr || this.logTail()}`);
      if (Date.now() > deadline)
        throw new NatsServerStartError("nats-server did not write its ports file in time");
      ports = readPorts(portsFile);
      if (!ports) await sleep(20);
    }
    const port = Number(new URL(ports.nats[0]!).port);
    const httpPort = Number(new URL(ports.monitoring![0]!).port);
    this.ports = { port, httpPort };
    while (!(await this.healthy())) {
      if (!this.running) throw new NatsServerStartError(`nats-server exited: ${stderr || this.logTail()}`);
      if (Date.now() > deadline) throw new NatsServerStartError("nats-server did not become healthy in time");
      await sleep(50);
    }
  }

  /** Last lines of the server log (for error messages). */
  logTail(lines = 20): string {
    const log = join(this.options.dir, "nats-server.log");
    if (!existsSync(log)) return "";
    return readFileSync(log, "utf8").split("\n").slice(-lines).join("\n");
  }

  /** True when `/healthz` answers ok (JetStream ready). */
  async healthy(): Promise<boolean> {
    try {
      const r = await fetch(`${this.monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      return r.ok;
    } catch {
      return false;
    }
  }

  /** Sends a signal to the process (e.g. SIGKILL to simulate a crash, SIGSTOP to pause). */
  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and waits for the exit. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child!.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process at once (no lame duck, no flush) and waits for the exit. */
  async crash(): Promise<void> {
    if (!this.running) return;
    this.child!.kill("SIGKILL");
    await this.exited;
  }

  /** Starts the stopped server again on the same ports with the same store. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launchOrKill();
  }
}
