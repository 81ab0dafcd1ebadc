/** The API repository and nonce ledger against a real nats-server: idempotency claims, including dead ones. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { provisionControl, provisionTenant } from "@custody/runtime";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NonceLedger } from "../src/domain/nonces.js";
import { Repository } from "../src/domain/repository.js";

let server: NatsServer;
let nc: NatsConnection;
let dir: string;
let repo: Repository;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-repo-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  await provisionTenant(nc, { parties: [1] });
  await provisionControl(nc);
  repo = await Repository.open(nc);
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pendingOp = (id: string) => ({
  id,
  type: "sign" as const,
  status: "pending" as const,
  keyId: "key_x",
  tenant: "t",
  participants: [1, 2],
  reports: {},
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

test("an Idempotency-Key belongs to its first live claim; a dead claim is taken over once stale", async () => {
  assert.equal(await repo.claimIdempotencyKey("k1", "op_a"), "op_a");
  assert.equal(await repo.claimIdempotencyKey("k1", "op_b"), "op_a", "a fresh claim is kept");
  // op_a never wrote its operation record: once stale, the next request takes the key over.
  assert.equal(await repo.claimIdempotencyKey("k1", "op_c", 0), "op_c");
  await repo.createOperation(pendingOp("op_c"));
  assert.equal(
    await repo.claimIdempotencyKey("k1", "op_d", 0),
    "op_c",
    "a claim with an operation is never taken over",
  );
});

test("nonces are accepted once", async () => {
  const nonces = await NonceLedger.open(nc);
  assert.equal(await nonces.remember("n1"), true);
  assert.equal(await nonces.remember("n1"), false);
  assert.equal(await nonces.remember("n2"), true);
});

/** Runs `f`, asserting that it reads nothing from a stream (no direct or stream message get). */
async function withoutReads<T>(f: () => Promise<T>): Promise<T> {
  const reads: string[] = [];
  const spies = ["$JS.API.DIRECT.GET.>", "$JS.API.STREAM.MSG.GET.>"].map((subject) =>
    nc.subscribe(subject, { callback: (_e, m) => void reads.push(m.subject) }),
  );
  await nc.flush();
  const out = await f();
  await nc.flush();
  for (const s of spies) s.unsubscribe();
  assert.deepEqual(reads, [], "no stream read");
  return out;
}

test("an update from a record just read writes without reading it again", async () => {
  await repo.createOperation(pendingOp("op_basis"));
  const basis = await repo.getOperation("op_basis");
  const after = await withoutReads(() =>
    repo.updateOperation("op_basis", (o) => ({ ...o, reports: { 1: "signed" } }), basis),
  );
  assert.deepEqual(after?.reports, { 1: "signed" });
  assert.deepEqual((await repo.getOperation("op_basis"))?.reports, { 1: "signed" });
});

test("an update from a stale record applies the change to the current one", async () => {
  await repo.createOperation(pendingOp("op_stale"));
  const stale = await repo.getOperation("op_stale");
  await repo.updateOperation("op_stale", (o) => ({ ...o, reports: { ...o.reports, 1: "signed" } }));
  const after = await repo.updateOperation(
    "op_stale",
    (o) => ({ ...o, reports: { ...o.reports, 2: "skipped" } }),
    stale,
  );
  assert.deepEqual(after?.reports, { 1: "signed", 2: "skipped" });
  assert.deepEqual((await repo.getOperation("op_stale"))?.reports, { 1: "signed", 2: "skipped" });
});

test("a pending record this process holds is never the answer: another instance's end is read", async () => {
  await repo.createOperation(pendingOp("op_elsewhere"));
  assert.equal((await repo.getOperation("op_elsewhere"))?.status, "pending");
  const other = await Repository.open(nc);
  await other.updateOperation("op_elsewhere", (o) => ({ ...o, status: "succeeded" }));
  assert.equal((await repo.getOperation("op_elsewhere"))?.status, "succeeded");
  // Once ended it is answered from memory: an ended operation never changes.
  assert.equal((await withoutReads(() => repo.getOperation("op_elsewhere")))?.status, "succeeded");
});

test("a key's identity is remembered once its DKG completed, not before", async () => {
  const t = new Date().toISOString();
  const base = {
    tenant: "t",
    scheme: "ed25519",
    threshold: 2,
    parties: [1, 2, 3],
    epoch: 0,
    createdAt: t,
    updatedAt: t,
  };
  await repo.createKey({ ...base, id: "key_new", status: "creating", operationId: "op_k" });
  await repo.updateKey("key_new", (k) => ({ ...k, status: "active", publicKey: "ab".repeat(32) }));
  // Still being created when last seen: read, and remembered now that it has its public key.
  assert.equal((await repo.keyIdentity("key_new"))?.publicKey, "ab".repeat(32));
  assert.deepEqual(await withoutReads(() => repo.keyIdentity("key_new")), {
    id: "key_new",
    scheme: "ed25519",
    publicKey: "ab".repeat(32),
    chainCode: undefined,
    derivationKey: undefined,
  });
  assert.equal(await repo.keyIdentity("key_unknown"), undefined);
});
