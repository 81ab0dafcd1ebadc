/**
 * Who can join a deployment's NATS cluster as a route. Node n1 runs from its bundle's
 * `custody nats-config` output on loopback; rogue nats-servers that present a party's client
 * certificate, the API's broker client certificate or the API's HTTPS certificate as their route
 * certificate (and trust any server certificate) dial n1's route port (every host is `localhost`:
 * the NATS client checks a server certificate by host name). n1 must route with none of
 * them, and a message published on a rogue must never reach a subscriber on n1. The positive
 * control: n2, started from its own bundle, does become n1's route and its messages do arrive.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { findNatsServer, toConf } from "@custody/natsd";
import { connectNats, readCreds } from "@custody/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import { CLI_MAIN } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "custody-route-"));
const out = join(dir, "deployment");
const children: ChildProcess[] = [];
const connections: NatsConnection[] = [];
const SUBJECT = "custody.route-probe";

/** `count` free loopback ports (bound to port 0, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const s = createServer();
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface Node {
  readonly name: string;
  readonly client: number;
  readonly http: number;
  readonly cluster: number;
}

let n1: Node;
let n2: Node;
let rogues: (Node & { cert: string; key: string })[] = [];

const cli = (args: string[]) => spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8" });

/** Starts nats-server with config `text`; resolves once its monitoring port answers. */
async function startServer(name: string, text: string, http: number): Promise<void> {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(conf, text, { mode: 0o600 });
  const child = spawn(findNatsServer(), ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  children.push(child);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr}`);
    const up = await fetch(`http://127.0.0.1:${http}/varz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${stderr}`);
    await sleep(100);
  }
}

/** A real node, its config rendered by `custody nats-config` from its bundle (ports for loopback). */
async function startNode(node: Node, peer: Node): Promise<void> {
  const file = join(dir, `${node.name}.rendered.conf`);
  const r = cli([
    "nats-config",
    "--config",
    join(out, node.name, "nats.json"),
    "--listen",
    `127.0.0.1:${node.client}`,
    "--http",
    `127.0.0.1:${node.http}`,
    "--cluster-listen",
    `127.0.0.1:${node.cluster}`,
    "--routes",
    `nats-route://localhost:${peer.cluster}`,
    "--store-dir",
    join(dir, node.name, "js"),
    "--resolver-dir",
    join(dir, node.name, "jwt"),
    "--log-file",
    join(dir, `${node.name}.log`),
    "--out",
    file,
  ]);
  assert.equal(r.status, 0, r.stderr);
  await startServer(node.name, readFileSync(file, "utf8"), node.http);
}

/** A rogue server: n1's public trust material, a stolen certificate as its route certificate. */
function rogueConf(rogue: (typeof rogues)[number]): string {
  const accounts = JSON.parse(readFileSync(join(out, "n1", "accounts.json"), "utf8")) as {
    system_account: string;
    resolver_preload: Record<string, string>;
  };
  return toConf({
    server_name: rogue.name,
    listen: `127.0.0.1:${rogue.client}`,
    http: `127.0.0.1:${rogue.http}`,
    operator: join(out, "n1", "operator.jwt"),
    system_account: accounts.system_account,
    resolver: "MEMORY",
    resolver_preload: accounts.resolver_preload,
    cluster: {
      name: "custody",
      listen: `127.0.0.1:${rogue.cluster}`,
      routes: [`nats-route://localhost:${n1.cluster}`],
      // The attacker accepts whatever n1 presents: only n1's check of the rogue can stop it.
      tls: { cert_file: rogue.cert, key_file: rogue.key, insecure: true, timeout: 2 },
    },
  });
}

const routez = async (node: Node) =>
  (await (await fetch(`http://127.0.0.1:${node.http}/routez`)).json()) as {
    num_routes: number;
    routes?: { remote_id: string }[];
  };
const serverId = async (node: Node) =>
  ((await (await fetch(`http://127.0.0.1:${node.http}/varz`)).json()) as { server_id: string }).server_id;

const admin = () => readCreds(join(out, "operator", "trust", "control-admin.creds"));
const adminTls = () => ({
  caFile: join(out, "operator", "pki", "ca.pem"),
  certFile: join(out, "operator", "pki", "admin.pem"),
  keyFile: join(out, "operator", "pki", "admin.key"),
});
async function connectTo(node: Node, tls: boolean): Promise<NatsConnection> {
  const nc = await connectNats({
    servers: [`nats://localhost:${node.client}`],
    credentials: admin(),
    name: `probe-${node.name}`,
    tls: tls ? adminTls() : undefined,
    timeoutMs: 10_000,
  });
  connections.push(nc);
  return nc;
}

before(async () => {
  const init = cli([
    "init",
    "--out",
    out,
    "--nats-nodes",
    "2",
    "--parties",
    "2",
    "--api-hosts",
    "1",
    "--nats-host",
    "n1=localhost",
    "--nats-host",
    "n2=localhost",
    "--api-host",
    "api1=localhost",
    "--insecure-file-kek",
  ]);
  assert.equal(init.status, 0, init.stderr);
  const ports = await freePorts(15);
  const node = (name: string, i: number): Node => ({
    name,
    client: ports[3 * i]!,
    http: ports[3 * i + 1]!,
    cluster: ports[3 * i + 2]!,
  });
  n1 = node("n1", 0);
  n2 = node("n2", 1);
  const stolen = [
    ["rogue-party", "party1/tls/client"],
    ["rogue-api", "api1/tls/client"],
    ["rogue-https", "api1/tls/https"],
  ] as const;
  rogues = stolen.map(([name, pair], i) => ({
    ...node(name, i + 2),
    cert: join(out, `${pair}.pem`),
    key: join(out, `${pair}.key`),
  }));
});

after(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => {})));
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("party and API certificates cannot make a server n1's route; n2's can", async () => {
  await startNode(n1, n2);
  const sub = (await connectTo(n1, true)).subscribe(SUBJECT);
  const received: string[] = [];
  void (async () => {
    for await (const m of sub) received.push(m.string());
  })();
  await Promise.all(rogues.map((r) => startServer(r.name, rogueConf(r), r.http)));
  const publishers = await Promise.all(rogues.map((r) => connectTo(r, false)));

  // For 4 s the rogues dial n1 (every second) and publish; n1 never counts a route.
  const seen: number[] = [];
  for (let i = 0; i < 16; i++) {
    for (const [j, nc] of publishers.entries()) nc.publish(SUBJECT, `from ${rogues[j]!.name}`);
    seen.push((await routez(n1)).num_routes);
    await sleep(250);
  }
  await Promise.all(publishers.map((nc) => nc.flush()));
  await sleep(500);
  assert.deepEqual(new Set(seen), new Set([0]), "n1 had no route while only rogues dialled it");
  assert.equal(received.length, 0, `nothing published on a rogue reached n1: ${received.join(", ")}`);
  const log = readFileSync(join(dir, "n1.log"), "utf8");
  assert.match(log, /route.*(handshake|certificate)/i, "the rogues did dial n1 and were refused in TLS");

  // Positive control: the real node n2 becomes n1's one route, and what it carries arrives.
  await startNode(n2, n1);
  const n2Id = await serverId(n2);
  const deadline = Date.now() + 20_000;
  let routes = await routez(n1);
  while (routes.num_routes === 0 && Date.now() < deadline) {
    await sleep(200);
    routes = await routez(n1);
  }
  assert.equal(routes.num_routes, 1, "n2 routes with n1");
  assert.deepEqual(
    routes.routes?.map((r) => r.remote_id),
    [n2Id],
  );
  const pub = await connectTo(n2, true);
  while (!received.includes("from n2") && Date.now() < deadline) {
    pub.publish(SUBJECT, "from n2");
    await sleep(200);
  }
  assert.ok(received.includes("from n2"), "a message published on n2 reaches n1's subscriber");
  assert.ok(
    received.every((m) => m === "from n2"),
    `only n2's messages arrived: ${JSON.stringify(received)}`,
  );
});
