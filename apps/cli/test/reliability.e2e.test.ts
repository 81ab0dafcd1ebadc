/**
 * Nothing lost, one outcome per request: an interrupted refresh never leaves a key unusable, old
 * epochs are retired only once a newer one is active, poison and never-enqueued work ends in a
 * typed failed state that the dead-letter view shows, a work item whose worker died after pulling it
 * is redelivered and runs once, a redelivered job finds its earlier result instead of running again,
 * an API crash loses no accepted request, and overload is refused with 429 instead of queued.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { signRequest } from "@custody/credentials";
import {
  create,
  fromBinary,
  partyConsumer,
  REQUEST_STREAM,
  RESULT_STREAM,
  requestSubject,
  resultSubject,
  SkippedSchema,
  type WorkItem,
  WorkItemSchema,
  WorkResultSchema,
} from "@custody/proto";
import { connectNats, partyInbox, publishResult } from "@custody/runtime";
import { CustodyClient, type Operation } from "@custody/sdk";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Stack } from "../src/index.js";
import { adminConnection, putOperationRecord, storedEpochs } from "./broker.js";
import {
  eventually,
  logRecords,
  startTestStack,
  stopTestStack,
  verifyEd25519,
  workerName,
} from "./helpers.js";

const MAX_PENDING = 6;
/** Bounds of the setup and of each test, so a hang fails this file instead of stalling the run. */
const HOOK_TIMEOUT = { timeout: 180_000 };
const TEST_TIMEOUT = { timeout: 240_000 };
let stack: Stack | undefined;
let api: CustodyClient;
let admin: NatsConnection;
let keyId: string;
let publicKey: string;

before(async () => {
  stack = await startTestStack({ parties: 3, env: { CUSTODY_MAX_PENDING_OPS: String(MAX_PENDING) } });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  admin = await adminConnection(stack);
  const op = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  keyId = op.keyId;
  publicKey = (await api.getKey(keyId)).publicKey!;
}, HOOK_TIMEOUT);
after(async () => {
  await admin?.close();
  await stopTestStack(stack);
}, HOOK_TIMEOUT);

async function signs(epoch: number) {
  const m = randomBytes(32);
  const op = await api.wait(await api.sign(keyId, { message: m.toString("hex") }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  assert.equal(op.signature?.epoch, epoch);
  assert.ok(verifyEd25519(publicKey, m, op.signature!.signature), "signature verifies");
  return op;
}

/** A request signed as the stack's admin client, without the SDK's error handling. */
function signed(method: string, path: string, body?: unknown) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const { seed, credential } = stack!.admin;
  return fetch(`${stack!.apiUrl}${path}`, {
    method,
    headers: {
      ...(text === undefined ? {} : { "content-type": "application/json" }),
      ...signRequest(seed, credential, method, path, new TextEncoder().encode(text ?? "")),
    },
    body: text,
  });
}

const liveParties = async () =>
  ((await (await fetch(`${stack!.apiUrl}/readyz`)).json()) as { liveParties: number[] }).liveParties;

test(
  "a party killed mid-refresh: the old epoch keeps signing, then refreshes succeed",
  TEST_TIMEOUT,
  async () => {
    await signs(0);
    const refresh = await api.refresh(keyId);
    await new Promise((r) => setTimeout(r, 40));
    await stack!.kill(workerName(3, 1));
    await eventually(async () => !(await liveParties()).includes(3), 10_000, "party 3 to be seen dead");
    const during = await signs(0);
    assert.deepEqual(during.participants, [1, 2], "another quorum signs at the old epoch");
    assert.equal((await api.getKey(keyId)).epoch, 0, "the unconfirmed epoch is not active");

    stack!.startWorker(3, 1);
    await stack!.waitReady();
    const interrupted = await api.wait(refresh, 90_000);
    assert.notEqual(interrupted.status, "pending");
    const epoch = interrupted.status === "succeeded" ? interrupted.targetEpoch! : 0;
    assert.equal((await api.getKey(keyId)).epoch, epoch, "the active epoch matches the refresh outcome");
    await signs(epoch);

    // Each refresh aims at a fresh epoch number (a failed one's is never reused) and activates it.
    let active = epoch;
    for (let i = 0; i < 2; i++) {
      const r = await api.wait(await api.refresh(keyId), 60_000);
      assert.equal(r.status, "succeeded", JSON.stringify(r.error));
      assert.ok(r.targetEpoch! > active, `refresh aimed past ${active}`);
      active = r.targetEpoch!;
      assert.equal((await api.getKey(keyId)).epoch, active);
      await signs(active);
    }
    for (const party of [1, 2, 3])
      assert.deepEqual(
        await storedEpochs(admin, party, keyId),
        [active],
        `party ${party} purged every epoch before the active one`,
      );
  },
);

test(
  "concurrent refreshes of one key: exactly one runs, the key advances one epoch",
  TEST_TIMEOUT,
  async () => {
    const before = (await api.getKey(keyId)).epoch;
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => signed("POST", `/v1/keys/${keyId}/refresh`)),
    );
    const accepted = answers.filter((r) => r.status === 202);
    assert.equal(accepted.length, 1, `one accepted (got ${answers.map((r) => r.status).join(",")})`);
    for (const r of answers) if (r.status !== 202) assert.equal(r.status, 409);
    const op = (await accepted[0]!.json()) as Operation;
    assert.equal((await api.wait(op, 60_000)).status, "succeeded");
    assert.equal((await api.getKey(keyId)).epoch, before + 1);
    await signs(before + 1);
  },
);

/** Connects with the NATS identity of `party`'s worker, as that worker would. */
const asWorker = async (party: number) =>
  connectNats({
    servers: stack!.natsUrls,
    credentials: await stack!.serviceCredentials(workerName(party, 1)),
    tls: stack!.pki.client(workerName(party, 1)),
    name: "test-worker",
    inboxPrefix: partyInbox(party),
  });

/**
 * Plays a worker of `party` that pulls its next work item and dies before acking it: returns the
 * item, which is never acked. Fails unless it is the first delivery of `operationId`.
 */
async function pullAndDie(nc: NatsConnection, party: number, operationId: string): Promise<WorkItem> {
  const consumer = await jetstream(nc).consumers.get(REQUEST_STREAM, partyConsumer(party));
  const msg = await consumer.next({ expires: 10_000 });
  assert.ok(msg, `party ${party}'s consumer delivered the work item of ${operationId}`);
  const item = fromBinary(WorkItemSchema, msg.data);
  assert.equal(item.operationId, operationId, `party ${party}'s next work item is ${operationId}`);
  assert.equal(msg.info.deliveryCount, 1, "the first delivery");
  return item;
}

/** What the worker of `party` logged about `operationId`: message and delivery count, in order. */
const workerLog = (party: number, operationId: string) =>
  logRecords(stack!, workerName(party, 1))
    .filter((r) => r.operationId === operationId)
    .map((r) => ({ msg: r.msg, deliveryCount: r.deliveryCount, outcome: r.outcome }));

/** How many results `party` published for `operationId` (the result stream keeps every message). */
async function resultsPublished(operationId: string, party: number): Promise<number> {
  const subject = resultSubject(operationId, party);
  const info = await (await jetstreamManager(admin)).streams.info(RESULT_STREAM, {
    subjects_filter: subject,
  });
  return info.state.subjects?.[subject] ?? 0;
}

test(
  "a work item whose worker died after pulling it is redelivered, and signed exactly once",
  TEST_TIMEOUT,
  async () => {
    // Every party signs with a 3-of-3 key, so the victim is a signer whatever quorum the API picks.
    const created = await api.wait(
      await api.createKey({ scheme: "ed25519", threshold: 3, parties: 3 }),
      60_000,
    );
    assert.equal(created.status, "succeeded", JSON.stringify(created.error));
    const all = await api.getKey(created.keyId);
    const victim = 2;
    await stack!.kill(workerName(victim, 1));
    // Within its liveness window (three heartbeats) the API still counts the victim as live.
    const m = randomBytes(32);
    const op = await api.sign(all.id, { message: m.toString("hex") });
    assert.deepEqual(op.participants, [1, 2, 3]);
    const nc = await asWorker(victim);
    try {
      await pullAndDie(nc, victim, op.id);
      stack!.startWorker(victim, 1);
      // Once the ack wait of the lost delivery passes, JetStream redelivers it to the new worker.
      const done = await api.wait(op, 90_000);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.ok(verifyEd25519(all.publicKey!, m, done.signature!.signature), "signature verifies");
    } finally {
      await nc.close();
    }
    // The victim logs its outcome after its ack, which may come after the others' signatures.
    await eventually(
      () => workerLog(victim, op.id).some((r) => r.msg === "work item done"),
      30_000,
      "the victim's worker to finish the redelivered item",
    );
    assert.deepEqual(
      workerLog(victim, op.id).filter((r) => r.msg === "work item done"),
      [{ msg: "work item done", deliveryCount: 2, outcome: "signature" }],
      "the new worker ran the redelivered item, once",
    );
    for (const party of [1, 2, 3])
      assert.equal(await resultsPublished(op.id, party), 1, `party ${party} published one result`);
    await stack!.waitReady();
  },
);

test(
  "a redelivered work item finds the result its party already published and does not run again",
  TEST_TIMEOUT,
  async () => {
    const victim = 3;
    await stack!.kill(workerName(victim, 1));
    await eventually(
      async () => !(await liveParties()).includes(victim),
      10_000,
      `party ${victim} to be seen dead`,
    );
    const m = randomBytes(32);
    const op = await api.sign(keyId, { message: m.toString("hex") });
    assert.ok(!op.participants.includes(victim), "the dead party is no signer");
    const reason = "published by the delivery that died";
    const nc = await asWorker(victim);
    try {
      // The dying worker published its result (this party is no signer), then died before the ack.
      const item = await pullAndDie(nc, victim, op.id);
      await publishResult(
        jetstream(nc),
        create(WorkResultSchema, {
          operationId: item.operationId,
          party: victim,
          outcome: { case: "skipped", value: create(SkippedSchema, { reason }) },
        }),
      );
      stack!.startWorker(victim, 1);
      await eventually(
        () => workerLog(victim, op.id).some((r) => r.msg === "work item done"),
        60_000,
        "the redelivered item to be done",
      );
    } finally {
      await nc.close();
    }
    assert.deepEqual(workerLog(victim, op.id), [
      { msg: "result already published: not running again", deliveryCount: 2, outcome: undefined },
      { msg: "work item done", deliveryCount: 2, outcome: "skipped" },
    ]);
    assert.equal(await resultsPublished(op.id, victim), 1, "no second result");
    const stored = await (await jetstreamManager(admin)).streams.getMessage(RESULT_STREAM, {
      last_by_subj: resultSubject(op.id, victim),
    });
    const first = fromBinary(WorkResultSchema, stored!.data);
    assert.equal(
      first.outcome.case === "skipped" && first.outcome.value.reason,
      reason,
      "the first result stands",
    );
    const done = await api.wait(op, 60_000);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    assert.ok(verifyEd25519(publicKey, m, done.signature!.signature), "signature verifies");
    await stack!.waitReady();
  },
);

/** A pending sign operation record of the admin client's tenant, as the API would write it. */
function pendingRecord(id: string, createdAt: Date): Operation & { tenant: string } {
  const t = createdAt.toISOString();
  return {
    id,
    type: "sign",
    status: "pending",
    keyId,
    tenant: "default",
    participants: [1, 2],
    reports: {},
    createdAt: t,
    updatedAt: t,
  };
}

test("poison work is terminated, fails typed, and shows in the dead-letter view", TEST_TIMEOUT, async () => {
  const id = `op_poison${randomBytes(6).toString("hex")}`;
  await putOperationRecord(admin, pendingRecord(id, new Date()));
  await jetstream(admin).publish(requestSubject("sign", id), randomBytes(64), { msgID: id });
  const op = await api.wait(id, 30_000);
  assert.equal(op.status, "failed");
  assert.equal(op.error?.code, "terminated");
  const view = (await (await signed("GET", "/v1/dead-letters?limit=50")).json()) as {
    operations: Operation[];
  };
  assert.ok(
    view.operations.some((o) => o.id === id && o.error?.code === "terminated"),
    "listed as a dead letter",
  );
});

test("an operation whose work item never reached the queue fails as not-enqueued", TEST_TIMEOUT, async () => {
  const id = `op_orphan${randomBytes(6).toString("hex")}`;
  await putOperationRecord(admin, pendingRecord(id, new Date(Date.now() - 5 * 60_000)));
  const op = await api.wait(id, 30_000);
  assert.equal(op.status, "failed");
  assert.equal(op.error?.code, "not-enqueued");
});

test("an API killed under load loses no accepted request", TEST_TIMEOUT, async () => {
  const accepted = await Promise.all(
    Array.from({ length: 5 }, () => api.sign(keyId, { message: randomBytes(32).toString("hex") })),
  );
  await stack!.kill("api");
  await stack!.startApi();
  const done = await Promise.all(accepted.map((o) => api.wait(o, 60_000)));
  for (const op of done) assert.equal(op.status, "succeeded", JSON.stringify(op.error));
});

test(
  "beyond the pending bound, work requests get 429 with Retry-After and nothing is lost",
  TEST_TIMEOUT,
  async () => {
    const responses = await Promise.all(
      Array.from({ length: 4 * MAX_PENDING }, () =>
        signed("POST", `/v1/keys/${keyId}/sign`, { message: randomBytes(32).toString("hex") }),
      ),
    );
    const limited = responses.filter((r) => r.status === 429);
    const accepted = responses.filter((r) => r.status === 202);
    assert.ok(limited.length > 0, "some requests were refused");
    assert.ok(accepted.length >= MAX_PENDING, "the bound admits its share");
    assert.ok(Number(limited[0]!.headers.get("retry-after")) > 0, "429 carries Retry-After");
    assert.equal(((await limited[0]!.json()) as { type: string }).type, "urn:custody:problem:rate-limited");
    const ops = (await Promise.all(accepted.map((r) => r.json()))) as Operation[];
    const done = await Promise.all(ops.map((o) => api.wait(o, 90_000)));
    for (const op of done) assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  },
);
