/**
 * The liveness tracker's memory is bounded whatever a party host publishes (real nats-server): a
 * flood of distinct worker ids keeps at most the per-party cap (the newest), never pushes out
 * another party's live worker, and the whole map stays under the global cap; a worker silent for
 * many liveness windows is forgotten, while a dead worker is still listed (as dead) for a while; a
 * heartbeat's tenant list keeps valid names only, at most the cap.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { create, HeartbeatSchema, heartbeatSubject, toBinary } from "@custody/proto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  FORGET_AFTER_WINDOWS,
  HeartbeatPublisher,
  LivenessTracker,
  MAX_SIGHTINGS,
  MAX_TENANTS_PER_WORKER,
  MAX_WORKERS_PER_PARTY,
  MISSED_HEARTBEATS,
} from "../src/heartbeat.js";

let dir: string;
let server: NatsServer;
let nc: NatsConnection;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-hb-bounds-"));
  server = await NatsServer.start({ dir, config: { jetstream: undefined } });
  nc = await connect({ servers: server.url });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(ok: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One heartbeat, as any party host could publish it. */
function beat(party: number, workerId: string, intervalMs = 100, tenants = ["acme"]) {
  const hb = create(HeartbeatSchema, {
    party,
    workerId,
    seq: 0n,
    activeSessions: 0,
    intervalMs,
    sentAtMs: BigInt(Date.now()),
    version: "0.1.0",
    tenants,
  });
  nc.publish(heartbeatSubject(party, workerId), toBinary(HeartbeatSchema, hb));
}

const has = (t: LivenessTracker, party: number, workerId: string, now?: number) =>
  t.sightings(now).some((w) => w.party === party && w.workerId === workerId);

test("10 000 worker ids of one party keep only the newest few, and another party's worker stays live", async () => {
  const tracker = new LivenessTracker(nc);
  tracker.start();
  const w1 = new HeartbeatPublisher(
    nc,
    1,
    "w1",
    1000,
    () => 0,
    () => ["acme"],
  );
  w1.start();
  await until(() => tracker.liveParties("acme").includes(1), "party 1 live");
  for (let i = 0; i < 10_000; i++) beat(2, `flood-${i}`);
  await nc.flush();
  await until(() => has(tracker, 2, "flood-9999"), "the flood arrived");
  const party2 = tracker.sightings().filter((w) => w.party === 2);
  assert.equal(party2.length, MAX_WORKERS_PER_PARTY);
  assert.ok(!has(tracker, 2, "flood-0"), "the oldest ids are evicted");
  assert.ok(has(tracker, 2, `flood-${10_000 - MAX_WORKERS_PER_PARTY}`), "the newest ids are kept");
  assert.equal(tracker.sightings().length, MAX_WORKERS_PER_PARTY + 1);
  assert.ok(
    tracker.liveWorkers().some((w) => w.party === 1 && w.workerId === "w1"),
    "party 1's worker is still listed live",
  );
  w1.stop();
  tracker.stop();
});

test("ids spread over many parties stay under the global cap", async () => {
  const tracker = new LivenessTracker(nc);
  tracker.start();
  const w1 = new HeartbeatPublisher(
    nc,
    1,
    "w1",
    1000,
    () => 0,
    () => ["acme"],
  );
  w1.start();
  await until(() => tracker.liveParties("acme").includes(1), "party 1 live");
  for (let i = 0; i < 10_000; i++) beat(1000 + i, "x");
  await nc.flush();
  await until(() => has(tracker, 10_999, "x"), "the flood arrived");
  assert.equal(tracker.sightings().length, MAX_SIGHTINGS);
  assert.ok(!has(tracker, 1000, "x"), "the oldest are evicted");
  await until(
    () => tracker.liveParties("acme").includes(1),
    "party 1's worker is live on its next heartbeat",
  );
  w1.stop();
  tracker.stop();
});

test("a silent worker is listed as dead for a while, then forgotten; a slower live worker is kept", async () => {
  const tracker = new LivenessTracker(nc);
  tracker.start();
  beat(3, "gone", 100);
  beat(4, "slow", 60_000);
  await nc.flush();
  await until(() => has(tracker, 3, "gone") && has(tracker, 4, "slow"), "both heard");
  const window = 100 * MISSED_HEARTBEATS;
  const soon = Date.now() + window * 2;
  assert.ok(has(tracker, 3, "gone", soon), "a dead worker is still listed");
  assert.ok(!tracker.liveWorkers(soon).some((w) => w.workerId === "gone"), "as dead");
  const later = Date.now() + window * FORGET_AFTER_WINDOWS + 1000;
  assert.ok(!has(tracker, 3, "gone", later), "forgotten after many windows");
  assert.deepEqual(tracker.liveParties("acme", later), [4], "a worker with a longer interval is still live");
  tracker.stop();
});

test("a heartbeat's tenants keep valid names only, each once, at most the cap", async () => {
  const tracker = new LivenessTracker(nc);
  tracker.start();
  const many = Array.from({ length: MAX_TENANTS_PER_WORKER + 500 }, (_, i) => `t${i}`);
  beat(5, "w", 100, ["acme", "not a tenant", "x".repeat(65), "acme", ...many]);
  await nc.flush();
  await until(() => has(tracker, 5, "w"), "heard");
  const [w] = tracker.sightings().filter((s) => s.party === 5);
  assert.equal(w?.tenants.length, MAX_TENANTS_PER_WORKER);
  assert.deepEqual(w?.tenants.slice(0, 2), ["acme", "t0"]);
  assert.deepEqual(tracker.liveParties("acme"), [5]);
  tracker.stop();
});
