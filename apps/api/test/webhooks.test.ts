/**
 * Webhook delivery against a real nats-server and a loopback receiver: two dispatchers (as two API
 * instances) deliver each change exactly once, the signature verifies with node:crypto and breaks
 * with any changed field, failures are retried and given up with the state showing it, type
 * filters hold, and URLs, key files and event types are checked.
 */
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { OPERATIONS_BUCKET } from "@custody/proto";
import { provisionTenant } from "@custody/runtime";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import type { OperationRecord } from "../src/domain/records.js";
import { Repository } from "../src/domain/repository.js";
import { checkWebhookUrl, eventTypeOf, WebhookStore, WebhookUrlError } from "../src/domain/webhooks.js";
import { type DeliveryPolicy, WebhookDispatcher } from "../src/domain/webhooks-delivery.js";
import { WebhookKeyError, WebhookSigner, webhookSigningBytes } from "../src/domain/webhooks-signing.js";

let server: NatsServer;
let nc: NatsConnection;
let dir: string;
let repo: Repository;
let store: WebhookStore;
let signer: WebhookSigner;
const receivers: Server[] = [];
const dispatchers: WebhookDispatcher[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-webhooks-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  await provisionTenant(nc, { parties: [1, 2, 3] });
  repo = await Repository.open(nc);
  store = await WebhookStore.open(nc);
  writeFileSync(join(dir, "webhook.key"), `${randomBytes(32).toString("hex")}\n`);
  signer = WebhookSigner.fromFile(join(dir, "webhook.key"));
});
after(async () => {
  for (const d of dispatchers) await d.stop();
  for (const r of receivers) r.close();
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const head = async () =>
  (await (await jetstreamManager(nc)).streams.info(`KV_${OPERATIONS_BUCKET}`)).state.last_seq;

async function dispatcher(owner: string, policy: DeliveryPolicy = {}) {
  const d = new WebhookDispatcher({
    repo,
    store,
    signer,
    head,
    render: (op) => ({ id: op.id, status: op.status }),
    owner,
    log: pino({ level: "silent" }),
    policy: { firstDelayMs: 30, timeoutMs: 2000, ...policy },
  });
  await d.start();
  dispatchers.push(d);
  return d;
}

async function receiver(code: number) {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  const s = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.writeHead(code).end();
    });
  });
  receivers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/`, got };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let seq = 0;
/** Creates an operation, moves it on once, and ends it: three changes. */
async function runOperation(): Promise<string> {
  const t = new Date().toISOString();
  const op: OperationRecord = {
    id: `op_wh_${++seq}`,
    type: "sign",
    status: "pending",
    keyId: "k",
    tenant: "acme",
    participants: [1, 2],
    reports: {},
    createdAt: t,
    updatedAt: t,
  };
  await repo.createOperation(op);
  await repo.updateOperation(op.id, (o) => ({
    ...o,
    progress: { phase: "session", attempt: 1, at: t },
    updatedAt: new Date(Date.now() + 1).toISOString(),
  }));
  await repo.updateOperation(op.id, (o) => ({ ...o, status: "succeeded" }));
  return op.id;
}

test("two instances deliver each change once, signed; a type filter holds", async () => {
  const all = await receiver(200);
  const terminal = await receiver(204);
  const before = await runOperation(); // before any subscription: never delivered
  const subAll = await store.add({ url: all.url, createdBy: "test", fromRevision: await head() });
  const subEnd = await store.add({
    url: terminal.url,
    events: ["succeeded"],
    createdBy: "test",
    fromRevision: await head(),
  });
  await dispatcher("a");
  await dispatcher("b");
  const ids = [await runOperation(), await runOperation(), await runOperation()];
  await until(() => all.got.length >= 9 && terminal.got.length >= 3, "deliveries");
  await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive by now
  assert.equal(all.got.length, 9, "three changes of three operations, once each");
  assert.equal(terminal.got.length, 3);
  const deliveries = all.got.map((d) => d.headers["custody-webhook-delivery"]);
  assert.equal(new Set(deliveries).size, 9);
  const bodies = all.got.map(
    (d) => JSON.parse(d.body) as { id: string; type: string; operation: { id: string } },
  );
  assert.ok(
    bodies.every((b) => b.type === "operation" && ids.includes(b.operation.id) && b.operation.id !== before),
  );
  assert.ok(
    terminal.got.every(
      (d) => (JSON.parse(d.body) as { operation: { status: string } }).operation.status === "succeeded",
    ),
  );

  const key = createPublicKey(signer.publicKeyPem);
  for (const d of [...all.got, ...terminal.got]) {
    const [id, delivery, ts] = ["id", "delivery", "timestamp"].map((h) =>
      String(d.headers[`custody-webhook-${h}`]),
    );
    const sig = Buffer.from(String(d.headers["custody-webhook-signature"]), "base64url");
    const body = new TextEncoder().encode(d.body);
    assert.ok(verify(null, webhookSigningBytes(id!, delivery!, ts!, body), key, sig));
    assert.ok([subAll.id, subEnd.id].includes(id!));
    assert.equal((JSON.parse(d.body) as { id: string }).id, delivery);
    // Another subscription, delivery, timestamp or body: refused.
    for (const other of [
      webhookSigningBytes(id === subAll.id ? subEnd.id : subAll.id, delivery!, ts!, body),
      webhookSigningBytes(id!, `${delivery}x`, ts!, body),
      webhookSigningBytes(id!, delivery!, String(Number(ts) + 1), body),
      webhookSigningBytes(id!, delivery!, ts!, new TextEncoder().encode(`${d.body} `)),
    ])
      assert.ok(!verify(null, other, key, sig));
  }
  await until(async () => (await store.state(subAll.id)).delivered === 9, "delivery state");
  const state = await store.state(subAll.id);
  assert.equal(state.consecutiveFailures, 0);
  assert.equal(state.lastStatus, 200);
  assert.equal(state.nextRetryAt, undefined);
  // A second claim of a delivered pair fails, whoever asks.
  const revision = Number(String(deliveries[0]).split("_").at(-1));
  assert.equal(await store.claim(subAll.id, revision, "c"), false);
  for (const d of dispatchers.splice(0)) await d.stop();
  assert.ok(await store.remove(subAll.id));
  assert.ok(await store.remove(subEnd.id));
  assert.equal(await store.remove(subEnd.id), false);
});

test("a failing receiver is retried with back-off, then given up; the state shows it", async () => {
  const failing = await receiver(500);
  const sub = await store.add({
    url: failing.url,
    events: ["created"],
    createdBy: "t",
    fromRevision: await head(),
  });
  await dispatcher("a", { maxAttempts: 3 });
  await runOperation();
  await until(async () => (await store.state(sub.id)).givenUp === 1, "giving up");
  const s = await store.state(sub.id);
  assert.equal(failing.got.length, 3);
  assert.equal(s.consecutiveFailures, 3);
  assert.equal(s.lastStatus, 500);
  assert.equal(s.delivered, 0);
  assert.equal(s.nextRetryAt, undefined, "nothing scheduled after giving up");
  assert.equal(s.lastError, "HTTP 500; given up after 3 attempts");
  assert.equal(
    new Set(failing.got.map((d) => d.headers["custody-webhook-delivery"])).size,
    1,
    "the same delivery",
  );
  for (const d of dispatchers.splice(0)) await d.stop();
  await store.remove(sub.id);
});

test("a cursor and a subscription start from another broker (a restore) do not hold deliveries back", async () => {
  const hook = await receiver(200);
  await store.advanceCursor(1e9);
  const sub = await store.add({ url: hook.url, events: ["created"], createdBy: "t", fromRevision: 1e9 });
  await dispatcher("a");
  const id = await runOperation();
  await until(() => hook.got.length === 1, "the delivery");
  assert.equal((JSON.parse(hook.got[0]!.body) as { operation: { id: string } }).operation.id, id);
  for (const d of dispatchers.splice(0)) await d.stop();
  assert.ok((await store.cursor()) <= (await head()), "the stale cursor was replaced");
  await store.remove(sub.id);
});

test("URLs, key files and event types", () => {
  assert.equal(checkWebhookUrl("https://example.com/hook"), "https://example.com/hook");
  for (const bad of [
    "ftp://example.com/",
    "/relative",
    "javascript:alert(1)",
    "https://u:p@example.com/",
    `https://example.com/${"a".repeat(2048)}`,
  ])
    assert.throws(() => checkWebhookUrl(bad), WebhookUrlError, bad);
  const file = join(dir, "bad.key");
  const secretish = "zz".repeat(32);
  writeFileSync(file, secretish);
  assert.throws(
    () => WebhookSigner.fromFile(file),
    (e: unknown) => e instanceof WebhookKeyError && !e.message.includes(secretish),
  );
  const t = "2026-01-01T00:00:00.000Z";
  const base: Omit<OperationRecord, "status" | "reports"> = {
    id: "o",
    type: "sign",
    keyId: "k",
    tenant: "x",
    participants: [1],
    createdAt: t,
    updatedAt: t,
  };
  assert.equal(eventTypeOf({ ...base, status: "pending", reports: {} }), "created");
  assert.equal(eventTypeOf({ ...base, status: "pending", reports: { 1: "skipped" } }), "progress");
  assert.equal(
    eventTypeOf({
      ...base,
      status: "pending",
      reports: {},
      progress: { phase: "session", attempt: 1, at: t },
    }),
    "progress",
  );
  assert.equal(eventTypeOf({ ...base, status: "failed", reports: {} }), "failed");
  assert.equal(eventTypeOf({ ...base, status: "succeeded", reports: {} }), "succeeded");
});
