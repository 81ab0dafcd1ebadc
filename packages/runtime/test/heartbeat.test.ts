/**
 * Liveness over a real nats-server: a party counts as live while one of its workers heartbeats,
 * and, per tenant, only while that worker says it serves the tenant.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { HeartbeatPublisher, LivenessTracker } from "../src/index.js";

let dir: string;
let server: NatsServer;
let nc: NatsConnection;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-hb-"));
  server = await NatsServer.start({ dir, config: { jetstream: undefined } });
  nc = await connect({ servers: server.url });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(ok: () => boolean, what: string) {
  const deadline = Date.now() + 3000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("parties are live while a worker heartbeats, per tenant only where it serves", async () => {
  const tracker = new LivenessTracker(nc);
  tracker.start();
  let served1 = ["acme"];
  const w1 = new HeartbeatPublisher(
    nc,
    1,
    "w1",
    100,
    () => 0,
    () => served1,
  );
  const w2 = new HeartbeatPublisher(
    nc,
    2,
    "w1",
    100,
    () => 0,
    () => ["acme", "globex"],
  );
  w1.start();
  w2.start();
  await until(() => tracker.liveParties().length === 2, "both parties live");
  assert.deepEqual(tracker.liveParties("acme"), [1, 2]);
  assert.deepEqual(tracker.liveParties("globex"), [2], "party 1 does not serve globex");
  assert.deepEqual(tracker.liveParties("initech"), []);
  served1 = ["acme", "globex"];
  w1.beat();
  await until(() => tracker.liveParties("globex").length === 2, "party 1 announces globex at once");
  w2.stop();
  await until(() => !tracker.liveParties().includes(2), "a silent party is dead after three intervals");
  assert.deepEqual(tracker.liveParties("globex"), [1]);
  w1.stop();
  tracker.stop();
});
