/**
 * mTLS on cluster routes: a node whose certificate comes from the cluster's CA joins; a node with
 * a certificate from another CA, or none, is refused by the cluster's route listeners.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createDevPki, type DevPki, NatsCluster, NatsServer, serverTlsConfig } from "../src/index.js";

let dir: string;
let pki: DevPki;
let cluster: NatsCluster;
const extra: NatsServer[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-route-tls-"));
  pki = createDevPki(join(dir, "pki"));
  cluster = await NatsCluster.start({
    dir: join(dir, "cluster"),
    size: 2,
    name: "routes",
    // No JetStream: a node that cannot route would never report healthy with it.
    config: { tls: serverTlsConfig(pki), jetstream: undefined },
  });
});
after(async () => {
  for (const s of extra) await s.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function routesOf(s: NatsServer): Promise<number> {
  const r = await fetch(`${s.monitorUrl}/routez`);
  return ((await r.json()) as { num_routes: number }).num_routes;
}

/** Starts a server that tries to route to the cluster with the given route TLS block. */
async function joiner(name: string, tls: Record<string, string | boolean | number> | undefined) {
  const s = await NatsServer.start({
    dir: join(dir, name),
    name,
    config: {
      jetstream: undefined,
      cluster: {
        name: "routes",
        listen: "127.0.0.1:-1",
        routes: [...cluster.routeUrls],
        ...(tls ? { tls } : {}),
      },
    },
  });
  extra.push(s);
  return s;
}

async function settle() {
  await new Promise((r) => setTimeout(r, 2500));
}

test("a node with a certificate from the cluster's CA joins the routes", async () => {
  const good = await joiner("good", serverTlsConfig(pki));
  await settle();
  assert.equal(await routesOf(good), 2, "it routes to both nodes");
  assert.equal(await routesOf(cluster.servers[0]!), 2, "node 1 sees node 2 and the newcomer");
});

test("a node with a foreign CA's certificate, or no TLS, is refused", async () => {
  const foreign = createDevPki(join(dir, "foreign-pki"));
  const before = await routesOf(cluster.servers[0]!);
  const rogue = await joiner("rogue", serverTlsConfig({ ...foreign, caFile: pki.caFile }));
  const plain = await joiner("plain", undefined);
  await settle();
  assert.equal(await routesOf(rogue), 0, "the foreign-CA node has no route");
  assert.equal(await routesOf(plain), 0, "the plain node has no route");
  assert.equal(await routesOf(cluster.servers[0]!), before, "the cluster's routes are unchanged");
});
