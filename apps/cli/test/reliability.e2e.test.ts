/**
 * Nothing lost, one outcome per request: an interrupted refresh never leaves a key unusable, old
 * epochs are retired only once a newer one is active, poison and never-enqueued work ends in a
 * typed failed state that the dead-letter view shows, a redelivered job finds its earlier result,
 * an API crash loses no accepted request, and overload is refused with 429 instead of queued.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { signRequest } from "@custody/credentials";
import { requestSubject } from "@custody/proto";
import { connectNats, findResult, partyInbox } from "@custody/runtime";
import { CustodyClient, type Operation } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Stack } from "../src/index.js";
import { adminConnection, putOperationRecord, storedEpochs } from "./broker.js";
import { eventually, startTestStack, stopTestStack, verifyEd25519, workerName } from "./helpers.js";

const MAX_PENDING = 6;
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
});
after(async () => {
  await admin?.close();
  await stopTestStack(stack);
});

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

test("a party killed mid-refresh: the old epoch keeps signing, then refreshes succeed", async () => {
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
  const epoch = interrupted.status === "succeeded" ? 1 : 0;
  assert.equal((await api.getKey(keyId)).epoch, epoch, "the active epoch matches the refresh outcome");
  await signs(epoch);

  for (const next of [epoch + 1, epoch + 2]) {
    const r = await api.wait(await api.refresh(keyId), 60_000);
    assert.equal(r.status, "succeeded", JSON.stringify(r.error));
    assert.equal((await api.getKey(keyId)).epoch, next);
    await signs(next);
  }
  const active = epoch + 2;
  for (const party of [1, 2, 3])
    assert.deepEqual(
      await storedEpochs(admin, party, keyId),
      [active - 1, active],
      `party ${party} retired every epoch before the previous one`,
    );
});

test("concurrent refreshes of one key: exactly one runs, the key advances one epoch", async () => {
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
});

test("a redelivered job finds the result its party already published", async () => {
  const op = await signs((await api.getKey(keyId)).epoch);
  const nc = await connectNats({
    servers: stack!.natsUrls,
    credentials: await stack!.serviceCredentials(workerName(op.participants[0]!, 1)),
    tls: stack!.pki.client(workerName(op.participants[0]!, 1)),
    name: "test-worker",
    inboxPrefix: partyInbox(op.participants[0]!),
  });
  try {
    const earlier = await findResult(jetstream(nc), op.id, op.participants[0]!);
    assert.equal(earlier?.outcome.case, "signature");
  } finally {
    await nc.close();
  }
});

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

test("poison work is terminated, fails typed, and shows in the dead-letter view", async () => {
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

test("an operation whose work item never reached the queue fails as not-enqueued", async () => {
  const id = `op_orphan${randomBytes(6).toString("hex")}`;
  await putOperationRecord(admin, pendingRecord(id, new Date(Date.now() - 5 * 60_000)));
  const op = await api.wait(id, 30_000);
  assert.equal(op.status, "failed");
  assert.equal(op.error?.code, "not-enqueued");
});

test("an API killed under load loses no accepted request", async () => {
  const accepted = await Promise.all(
    Array.from({ length: 5 }, () => api.sign(keyId, { message: randomBytes(32).toString("hex") })),
  );
  await stack!.kill("api");
  await stack!.startApi();
  const done = await Promise.all(accepted.map((o) => api.wait(o, 60_000)));
  for (const op of done) assert.equal(op.status, "succeeded", JSON.stringify(op.error));
});

test("beyond the pending bound, work requests get 429 with Retry-After and nothing is lost", async () => {
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
});
