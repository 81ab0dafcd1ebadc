/** The share store against a real nats-server: sealed at rest, bound to what the reader expects, create-only keys, activation. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { servedBucket, shareBucket } from "@custody/proto";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  EpochTakenError,
  KeyExistsError,
  ReplayError,
  SealError,
  ServedLedger,
  ShareStore,
} from "../src/index.js";

let server: NatsServer;
let nc: NatsConnection;
let dir: string;
const acme = (keyId: string) => ({ tenant: "acme", keyId, scheme: "ed25519" });
const s1 = "aa".repeat(32);
const s2 = "bb".repeat(32);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-store-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  await new Kvm(nc).create(shareBucket(1), { history: 1 });
  await new Kvm(nc).create(servedBucket(1), { history: 1 });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const raw = async (key: string) => (await (await new Kvm(nc).open(shareBucket(1))).get(key))?.value;
const rawPut = async (key: string, v: Uint8Array) => (await new Kvm(nc).open(shareBucket(1))).put(key, v);

test("shares are sealed at rest and open only for the key, epoch, session, scheme and tenant the reader expects", async () => {
  const kek = randomBytes(32);
  const store = await ShareStore.open(nc, 1, kek);
  const share = randomBytes(64);
  await store.claimKey(acme("key_a"), "op_a");
  await store.putShare(acme("key_a"), { epoch: 0, session: s1 }, share, [1, 2, 3], "op_a");
  const got = await store.getShare(acme("key_a"), { epoch: 0, session: s1 });
  assert.deepEqual(Buffer.from(got!.share), share);
  assert.deepEqual(got!.parties, [1, 2, 3]);
  const record = (await raw(`key_a.0.${s1}`))!;
  assert.equal(Buffer.from(record).includes(share.subarray(0, 12)), false, "no plaintext in the bucket");
  // Copied to another key id, epoch or session: does not open.
  await rawPut(`key_b.0.${s1}`, record);
  await rawPut(`key_a.1.${s1}`, record);
  await rawPut(`key_a.0.${s2}`, record);
  await assert.rejects(store.getShare(acme("key_b"), { epoch: 0, session: s1 }), SealError);
  await assert.rejects(store.getShare(acme("key_a"), { epoch: 1, session: s1 }), SealError);
  await assert.rejects(store.getShare(acme("key_a"), { epoch: 0, session: s2 }), SealError);
  // Read for another tenant (the record copied into another tenant's account) or another scheme.
  await assert.rejects(
    store.getShare({ ...acme("key_a"), tenant: "evil" }, { epoch: 0, session: s1 }),
    SealError,
  );
  await assert.rejects(
    store.getShare({ ...acme("key_a"), scheme: "bip340" }, { epoch: 0, session: s1 }),
    SealError,
  );
  await assert.rejects(store.state({ ...acme("key_a"), tenant: "evil" }), SealError);
  // Another party's KEK cannot open it.
  await assert.rejects(
    (await ShareStore.open(nc, 1, randomBytes(32))).getShare(acme("key_a"), { epoch: 0, session: s1 }),
    SealError,
  );
  assert.equal(await store.getShare(acme("key_a"), { epoch: 7, session: s1 }), undefined);
});

test("a key id is claimed once: another DKG operation, or any after activation, is refused", async () => {
  const store = await ShareStore.open(nc, 1, randomBytes(32));
  await store.claimKey(acme("key_c"), "op_1");
  await store.claimKey(acme("key_c"), "op_1"); // the same DKG retried
  await assert.rejects(store.claimKey(acme("key_c"), "op_2"), KeyExistsError);
  await store.putShare(acme("key_c"), { epoch: 0, session: s1 }, randomBytes(8), [1, 2], "op_1");
  await store.activate(acme("key_c"), { epoch: 0, session: s1 });
  await assert.rejects(store.claimKey(acme("key_c"), "op_1"), KeyExistsError);
  // A share slot is written once.
  await assert.rejects(
    store.putShare(acme("key_c"), { epoch: 0, session: s1 }, randomBytes(8), [1, 2], "op_1"),
  );
});

test("one operation's share per epoch is confirmed; activation keeps it, purges every other slot, never goes back", async () => {
  const store = await ShareStore.open(nc, 1, randomBytes(32));
  const k = acme("key_d");
  await store.claimKey(k, "op_d");
  // A retried DKG: its later session takes the confirmation over.
  await store.putShare(k, { epoch: 0, session: s1 }, randomBytes(8), [1, 2], "op_d");
  await store.putShare(k, { epoch: 0, session: s2 }, randomBytes(8), [1, 2], "op_d");
  await assert.rejects(store.activate(k, { epoch: 0, session: s1 }), /not the one this party confirmed/);
  assert.deepEqual(await store.activate(k, { epoch: 0, session: s2 }), [{ epoch: 0, session: s1 }]);
  // Two refreshes aiming at one epoch: the second operation is refused, whatever its session.
  const e1 = "cc".repeat(32);
  await store.putShare(k, { epoch: 1, session: e1 }, randomBytes(8), [1, 2], "op_r1");
  await assert.rejects(
    store.putShare(k, { epoch: 1, session: s1 }, randomBytes(8), [1, 2], "op_r2"),
    EpochTakenError,
  );
  // A refresh that failed leaves its epoch taken; the next one aims at a later epoch, and wins.
  const e2 = "dd".repeat(32);
  await store.putShare(k, { epoch: 2, session: e2 }, randomBytes(8), [1, 2], "op_r2");
  assert.deepEqual(
    (await store.activate(k, { epoch: 2, session: e2 })).sort((a, b) => a.epoch - b.epoch),
    [
      { epoch: 0, session: s2 },
      { epoch: 1, session: e1 },
    ],
  );
  const state = await store.state(k);
  assert.deepEqual(state?.active, { epoch: 2, session: e2 });
  assert.deepEqual(state?.slots, [{ epoch: 2, session: e2 }]);
  assert.deepEqual(state?.confirmed, []);
  // Purged, not soft-deleted: the stream keeps no earlier revision of the retired slots.
  for (const key of [`key_d.0.${s2}`, `key_d.0.${s1}`, `key_d.1.${e1}`]) {
    const kv = await new Kvm(nc).open(shareBucket(1));
    assert.equal((await kv.get(key))?.operation ?? "none", "PURGE", key);
    const history = [];
    for await (const e of await kv.history({ key })) history.push(e.operation);
    assert.deepEqual(history, ["PURGE"], key);
  }
  assert.equal(await store.getShare(k, { epoch: 0, session: s2 }), undefined);
  // Never back, never a second time at or below the active epoch.
  await assert.rejects(store.activate(k, { epoch: 1, session: e1 }));
  await assert.rejects(
    store.putShare(k, { epoch: 2, session: s1 }, randomBytes(8), [1, 2], "op_r3"),
    EpochTakenError,
  );
});

test("bans accumulate in the sealed state", async () => {
  const store = await ShareStore.open(nc, 1, randomBytes(32));
  const k = acme("key_e");
  await store.claimKey(k, "op_e");
  await store.ban(k, { epoch: 0, peer: 3 });
  await store.ban(k, { epoch: 0, peer: 2 });
  await store.ban(k, { epoch: 0, peer: 3 });
  assert.deepEqual((await store.state(k))?.bans, [
    { epoch: 0, peer: 3 },
    { epoch: 0, peer: 2 },
  ]);
});

test("the served-request ledger lets a request be claimed by one operation and served once", async () => {
  const served = await ServedLedger.open(nc, 1);
  const d = randomBytes(32);
  await served.claim(d, "op_x");
  await served.claim(d, "op_x"); // redelivery of the same work item
  await assert.rejects(served.claim(d, "op_y"), ReplayError);
  await served.served(d, "op_x");
  await assert.rejects(served.claim(d, "op_x"), ReplayError);
});

test("a request only taken note of is served at once: no operation claims it afterwards", async () => {
  const served = await ServedLedger.open(nc, 1);
  const d = randomBytes(32);
  await served.serve(d, "op_x");
  await assert.rejects(served.claim(d, "op_x"), /already served/);
  await served.serve(d, "op_x"); // redelivery of the same work item
  await assert.rejects(served.claim(d, "op_x"), /already served/);
  await assert.rejects(served.claim(d, "op_y"), /another operation/);
  await assert.rejects(served.serve(d, "op_y"), /another operation/);
  // A request this party claimed for an operation and is then told to only note is served too.
  const e = randomBytes(32);
  await served.claim(e, "op_z");
  await served.serve(e, "op_z");
  await assert.rejects(served.claim(e, "op_z"), /already served/);
});
