/** Store checks that only targeted inputs reach: malformed KEKs and records, races on one key, epoch bookkeeping. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  open,
  PartyLedger,
  ReplayError,
  readKek,
  SealError,
  ServedLedger,
  ShareStore,
  seal,
} from "../src/index.js";

let server: NatsServer;
let nc: NatsConnection;
let dir: string;
const ref = (keyId: string) => ({ tenant: "acme", keyId, scheme: "ed25519" });
const slotOf = (epoch: number, session: string) => ({ epoch, session });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-store-mut-"));
  server = await NatsServer.start({ dir: join(dir, "nats") });
  nc = await connect({ servers: server.url });
  await new Kvm(nc).create(shareBucket(1), { history: 1 });
  await new Kvm(nc).create(servedBucket(1), { history: 1 });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a KEK file must hold exactly 64 hex characters", () => {
  const f = join(dir, "kek");
  for (const bad of ["ab".repeat(31), "ab".repeat(33), `x${"ab".repeat(32)}`, `${"ab".repeat(32)}x`]) {
    writeFileSync(f, bad);
    assert.throws(() => readKek(f), /64 hex characters/);
  }
  writeFileSync(f, ` ${"AB".repeat(32)}\n`);
  assert.equal(readKek(f).length, 32);
});

test("a wrong-sized KEK, a short record or another record version is a SealError", async () => {
  const slot = { keyId: "k", party: 1, epoch: 0, scheme: "ed25519", tenant: "acme", session: "aa" };
  const kek = randomBytes(32);
  const record = await seal(kek, slot, randomBytes(40));
  await assert.rejects(seal(randomBytes(31), slot, randomBytes(8)), SealError);
  await assert.rejects(open(randomBytes(31), slot, record), SealError);
  const bodyAt = 3 + record[1]! + record[2 + record[1]!]!;
  await assert.rejects(open(kek, slot, record.subarray(0, bodyAt + 24 + 15)), /unsupported/);
  await assert.rejects(open(kek, slot, Uint8Array.of(1, ...randomBytes(24 + 15))), /unsupported/);
  for (const version of [0, 3, 255]) {
    const other = Uint8Array.from(record);
    other[0] = version;
    await assert.rejects(open(kek, slot, other), /unsupported/);
  }
  assert.equal((await open(kek, slot, record.subarray(0, bodyAt + 24 + 16 + 40))).length, 40);
});

test("concurrent state updates of one key all land (compare-and-set retries, never a lost update)", async () => {
  const kek = randomBytes(32);
  const [a, b] = [await ShareStore.open(nc, 1, kek), await ShareStore.open(nc, 1, kek)];
  const k = ref("key_race");
  await a.claimKey(k, "op_race");
  await Promise.all(
    Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).ban(k, { epoch: 0, peer: i + 2 })),
  );
  const peers = (await a.state(k))!.bans.map((x) => x.peer).sort((x, y) => x - y);
  assert.deepEqual(
    peers,
    Array.from({ length: 12 }, (_, i) => i + 2),
  );
  // Two creations of the same key id racing: one claim, the other operation refused.
  const results = await Promise.allSettled([
    a.claimKey(ref("key_twice"), "op_a"),
    b.claimKey(ref("key_twice"), "op_b"),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(lost.reason instanceof KeyExistsError, String(lost.reason));
});

test("activating the active slot again changes nothing; a later epoch's confirmation survives an activation", async () => {
  const store = await ShareStore.open(nc, 1, randomBytes(32));
  const k = ref("key_keep");
  const [s0, s1, s2] = ["a0", "a1", "a2"].map((x) => x.repeat(16));
  await store.claimKey(k, "op_k");
  await store.putShare(k, slotOf(0, s0!), randomBytes(8), [1, 2], "op_k");
  await store.activate(k, slotOf(0, s0!));
  assert.deepEqual(await store.activate(k, slotOf(0, s0!)), []);
  assert.deepEqual((await store.state(k))?.active, slotOf(0, s0!));
  // Epoch 2 confirmed for one refresh before epoch 1 of another activates: it stays taken.
  await store.putShare(k, slotOf(1, s1!), randomBytes(8), [1, 2], "op_r1");
  await store.putShare(k, slotOf(2, s2!), randomBytes(8), [1, 2], "op_r2");
  await store.activate(k, slotOf(1, s1!));
  assert.deepEqual(
    (await store.state(k))?.confirmed?.map((c) => [c.epoch, c.operation]),
    [[2, "op_r2"]],
  );
  await assert.rejects(store.putShare(k, slotOf(2, s0!), randomBytes(8), [1, 2], "op_r3"), EpochTakenError);
});

test("the ledger records epoch 0, never writes a known epoch twice, and keeps the highest", () => {
  const file = join(dir, "epochs.ledger");
  const l = PartyLedger.open(file);
  assert.equal(l.activeEpoch("acme", "key_0"), undefined);
  l.recordActive("acme", "key_0", 0);
  assert.equal(l.activeEpoch("acme", "key_0"), 0);
  l.recordActive("acme", "key_0", 0);
  l.recordActive("acme", "key_0", 3);
  l.recordActive("acme", "key_0", 3);
  assert.equal(readFileSync(file, "utf8").trim().split("\n").length, 2);
  assert.equal(PartyLedger.open(file).activeEpoch("acme", "key_0"), 3);
  l.recordBan("acme", "key_0", 3, 2);
  l.recordBan("acme", "key_0", 3, 2);
  assert.equal(readFileSync(file, "utf8").trim().split("\n").length, 3);
});

test("two operations claiming one request at once: exactly one wins", async () => {
  const served = await ServedLedger.open(nc, 1);
  const digest = randomBytes(32);
  const results = await Promise.allSettled(
    ["op_1", "op_2", "op_3", "op_4"].map((op) => served.claim(digest, op)),
  );
  const won = results.filter((r) => r.status === "fulfilled").length;
  assert.equal(won, 1);
  for (const r of results)
    if (r.status === "rejected") assert.ok(r.reason instanceof ReplayError, String(r.reason));
});
