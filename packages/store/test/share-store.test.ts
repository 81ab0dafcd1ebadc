/** The share store against a real nats-server: sealed at rest, bound to its slot, pairwise locks. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { shareBucket } from "@custody/proto";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { SealError, ShareStore } from "../src/index.js";

let server: NatsServer;
let nc: NatsConnection;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-store-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  await new Kvm(nc).create(shareBucket(1), { history: 1 });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("shares are sealed at rest and open only in their own slot", async () => {
  const kek = randomBytes(32);
  const store = await ShareStore.open(nc, 1, kek);
  const share = randomBytes(64);
  await store.put("key_a", 0, "ed25519", "acme", share);
  const got = await store.get("key_a", 0);
  assert.deepEqual(Buffer.from(got!.share), share);
  assert.equal(got!.tenant, "acme");
  const raw = await (await new Kvm(nc).open(shareBucket(1))).get("key_a.0");
  assert.equal(Buffer.from(raw!.value).includes(share.subarray(0, 12)), false, "no plaintext in the bucket");
  // A record copied to another key id or epoch does not open.
  const kv = await new Kvm(nc).open(shareBucket(1));
  await kv.put("key_b.0", raw!.value);
  await kv.put("key_a.1", raw!.value);
  await assert.rejects(store.get("key_b", 0), SealError);
  await assert.rejects(store.get("key_a", 1), SealError);
  // Another party's KEK cannot open it.
  await assert.rejects((await ShareStore.open(nc, 1, randomBytes(32))).get("key_a", 0), SealError);
  assert.equal(await store.get("key_a", 7), undefined);
});

test("pairwise locks persist until cleared", async () => {
  const store = await ShareStore.open(nc, 1, randomBytes(32));
  assert.deepEqual(await store.lockedPeers("key_l"), []);
  await store.lockPair("key_l", 3);
  await store.lockPair("key_l", 2);
  await store.lockPair("key_l", 3);
  assert.deepEqual(await store.lockedPeers("key_l"), [2, 3]);
  await store.clearLocks("key_l");
  assert.deepEqual(await store.lockedPeers("key_l"), []);
});
