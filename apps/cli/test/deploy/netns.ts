/**
 * Separate hosts on one machine for the deployment test: one network namespace per host, each with
 * a veth pair to a bridge that lives in a namespace of its own, so nothing is added to the root
 * namespace and the subnet is private to this run. Hosts find each other by name through the
 * namespace's own hosts file (`/etc/netns/<ns>/hosts`, which `ip netns exec` mounts as /etc/hosts). Names carry a random tag (parallel runs do not
 * collide); `destroy` kills every process this lab started and deletes every namespace, and a
 * process exit handler does the same if the test dies first.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";

/** True when this process can create network namespaces (root and iproute2's `ip netns`). */
export function netnsAvailable(): { ok: boolean; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: "not root" };
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (r.error || r.status !== 0)
    return { ok: false, why: `ip netns unavailable: ${r.error?.message ?? r.stderr}` };
  return { ok: true, why: "" };
}

const ip = (...args: string[]) => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
};

/** The result of a command run to its end. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A set of hosts (namespaces) on one bridge. */
export class NetnsLab {
  private readonly children = new Set<ChildProcess>();
  private readonly namespaces: string[] = [];
  private readonly onExit = () => this.destroySync();

  private constructor(readonly tag: string) {
    process.once("exit", this.onExit);
  }

  /**
   * Creates the bridge and one namespace per host with its address on a /24; every host resolves
   * `names` (DNS name to address).
   */
  static create(hosts: Readonly<Record<string, string>>, names: Readonly<Record<string, string>>): NetnsLab {
    const lab = new NetnsLab(randomBytes(3).toString("hex"));
    try {
      const bridge = lab.add("br");
      ip("-n", bridge, "link", "add", "br0", "type", "bridge");
      ip("-n", bridge, "link", "set", "br0", "up");
      Object.entries(hosts).forEach(([name, address], i) => {
        const ns = lab.add(name);
        mkdirSync(`/etc/netns/${ns}`, { recursive: true });
        const lines = Object.entries(names).map(([host, a]) => `${a} ${host}`);
        writeFileSync(`/etc/netns/${ns}/hosts`, `127.0.0.1 localhost\n${lines.join("\n")}\n`);
        ip("-n", ns, "link", "set", "lo", "up");
        ip(
          "link",
          "add",
          "name",
          "eth0",
          "netns",
          ns,
          "type",
          "veth",
          "peer",
          "name",
          `v${i}`,
          "netns",
          bridge,
        );
        ip("-n", bridge, "link", "set", `v${i}`, "master", "br0", "up");
        ip("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
        ip("-n", ns, "link", "set", "eth0", "up");
      });
    } catch (e) {
      lab.destroySync();
      throw e;
    }
    return lab;
  }

  private add(name: string): string {
    const ns = this.ns(name);
    ip("netns", "add", ns);
    this.namespaces.push(ns);
    return ns;
  }

  /** The namespace name of a host. */
  ns(host: string): string {
    return `custody-${this.tag}-${host}`;
  }

  /** Starts `cmd` in `host`'s namespace; its output goes to `log`. */
  spawn(
    host: string,
    cmd: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    log: string,
  ): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.ns(host), cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = createWriteStream(log, { flags: "a" });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd` in `host`'s namespace to its end. */
  run(host: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", this.ns(host), cmd, ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.children.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.once("error", reject);
      child.once("close", (code) => {
        this.children.delete(child);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Stops every process (SIGTERM, then SIGKILL after 3 s) and deletes every namespace. */
  async destroy(): Promise<void> {
    await Promise.all(
      [...this.children].map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        const t = setTimeout(() => c.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }),
    );
    this.destroySync();
  }

  /** Kills what is left and deletes the namespaces (idempotent; also run at process exit). */
  private destroySync(): void {
    for (const c of this.children) c.kill("SIGKILL");
    for (const ns of this.namespaces.splice(0)) {
      // Anything still inside (a grandchild) dies with a SIGKILL before the namespace goes.
      const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split(/\s+/) ?? [];
      for (const pid of pids.filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      spawnSync("ip", ["netns", "del", ns]);
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    process.off("exit", this.onExit);
  }
}
