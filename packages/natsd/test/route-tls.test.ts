/**
 * mTLS on cluster routes: a node with the route certificate joins; a node with a certificate from
 * another CA, or none, is refused by the cluster's route listeners, and so is one presenting a
 * client certificate of the deployment's own CA (a party's or the API's): a route bypasses every
 * account permission, so holding a client certificate must never be enough to open one.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  createDevPki,
  type DevPki,
  NatsCluster,
  NatsServer,
  routeTlsConfig,
  serverTlsConfig,
} from "../src/index.js";

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
    routeTls: routeTlsConfig(pki),
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

test("a node with the route certificate joins the routes", async () => {
  const good = await joiner("good", routeTlsConfig(pki));
  await settle();
  assert.equal(await routesOf(good), 2, "it routes to both nodes");
  assert.equal(await routesOf(cluster.servers[0]!), 2, "node 1 sees node 2 and the newcomer");
});

test("a node with a foreign CA's certificate, or no TLS, is refused", async () => {
  const foreign = createDevPki(join(dir, "foreign-pki"));
  const before = await routesOf(cluster.servers[0]!);
  const rogue = await joiner("rogue", routeTlsConfig({ ...foreign, routeCaFile: pki.routeCaFile }));
  const plain = await joiner("plain", undefined);
  await settle();
  assert.equal(await routesOf(rogue), 0, "the foreign-CA node has no route");
  assert.equal(await routesOf(plain), 0, "the plain node has no route");
  assert.equal(await routesOf(cluster.servers[0]!), before, "the cluster's routes are unchanged");
});

test("a node presenting a client or server certificate of the deployment's CA is refused as a route", async () => {
  const before = await routesOf(cluster.servers[0]!);
  // The rogue itself trusts both CAs, so only the cluster's side can refuse the route.
  const anyCa = join(dir, "any-ca.pem");
  writeFileSync(anyCa, readFileSync(pki.caFile, "utf8") + readFileSync(pki.routeCaFile, "utf8"));
  const party = pki.client("party1-w1");
  const asParty = await joiner("as-party", {
    cert_file: party.certFile,
    key_file: party.keyFile,
    ca_file: anyCa,
    verify: true,
  });
  const asServer = await joiner("as-server", { ...serverTlsConfig(pki), ca_file: anyCa });
  await settle();
  assert.equal(await routesOf(asParty), 0, "a party's client certificate opens no route");
  assert.equal(await routesOf(asServer), 0, "the client port's server certificate opens no route");
  assert.equal(await routesOf(cluster.servers[0]!), before, "the cluster's routes are unchanged");
});
