/**
 * Resuming the audit chain's verification against a real nats-server: a stream deleted and
 * recreated (shorter, or as long as before) is a break at the last verified entry, never intact; a
 * read error other than a definite "no message" rejects (the caller retries from the same cursor)
 * instead of reading as a missing entry; a really broken chain is still reported as broken.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { AUDIT_STREAM, auditSubject } from "@custody/proto";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type AuditCursor, AuditLog, provisionControl, verifyAuditRange } from "../src/index.js";

let dir: string;
let server: NatsServer;
/** Full access. */
let nc: NatsConnection;
let js: JetStreamClient;
/** May read the stream's info but not its messages: every message read fails, never with "no message". */
let reader: NatsConnection;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-audit-"));
  server = await NatsServer.start({
    dir,
    config: {
      authorization: {
        users: [
          { user: "api", password: "api" },
          {
            user: "reader",
            password: "reader",
            permissions: { publish: { deny: ["$JS.API.STREAM.MSG.GET.>", "$JS.API.DIRECT.GET.>"] } },
          },
        ],
      },
    },
  });
  nc = await connect({
    servers: server.url,
    user: "api",
    pass: "api",
    reconnectTimeWait: 100,
    maxReconnectAttempts: -1,
  });
  reader = await connect({ servers: server.url, user: "reader", pass: "reader" });
  js = jetstream(nc, { timeout: 1000 });
});
after(async () => {
  await reader?.close();
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Each test starts from an empty audit stream. */
beforeEach(async () => {
  await recreate();
});

async function recreate() {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(AUDIT_STREAM).catch(() => false);
  await provisionControl(nc);
}

async function append(n: number, tag: string) {
  const log = new AuditLog(js, (e) => {
    throw e;
  });
  for (let i = 0; i < n; i++)
    await log.append({ at: new Date().toISOString(), kind: "http", action: `${tag} ${i}`, result: "200" });
}

async function intactCursor(): Promise<AuditCursor> {
  const v = await verifyAuditRange(js);
  assert.equal(v.brokenAt, undefined);
  assert.ok(v.cursor);
  return v.cursor;
}

test("a stream deleted and recreated shorter breaks the resumed chain at the last verified entry", async () => {
  await append(5, "first");
  const cursor = await intactCursor();
  assert.deepEqual([cursor.seq, cursor.entries], [5, 5]);
  await recreate();
  await append(2, "second");
  const v = await verifyAuditRange(js, cursor);
  assert.deepEqual([v.brokenAt, v.reason, v.entries, v.lastSeq], [5, "chain shorter than verified", 5, 2]);
});

test("a stream recreated with as many entries as were verified breaks at the replaced entry", async () => {
  await append(5, "first");
  const cursor = await intactCursor();
  await recreate();
  await append(5, "forged");
  const v = await verifyAuditRange(js, cursor);
  assert.deepEqual([v.brokenAt, v.reason, v.lastSeq], [5, "verified entry replaced", 5]);
  // and with more entries than before, still at the replaced entry
  await append(3, "more");
  const w = await verifyAuditRange(js, cursor);
  assert.deepEqual([w.brokenAt, w.reason], [5, "verified entry replaced"]);
});

test("resuming an untouched chain checks only the new entries", async () => {
  await append(3, "first");
  const cursor = await intactCursor();
  await append(2, "second");
  const v = await verifyAuditRange(js, cursor);
  assert.equal(v.brokenAt, undefined);
  assert.deepEqual([v.entries, v.cursor?.seq, v.lastSeq], [5, 5, 5]);
});

test("a read error is not a missing entry: it rejects, and a later read from the same cursor succeeds", async () => {
  await append(3, "first");
  const rjs = jetstream(reader, { timeout: 1000 });
  await assert.rejects(verifyAuditRange(rjs), "a failed read from the start is no break");
  const cursor = await intactCursor();
  await append(2, "second");
  await assert.rejects(verifyAuditRange(rjs, cursor), "a failed read when resuming is no break");
  const v = await verifyAuditRange(js, cursor);
  assert.equal(v.brokenAt, undefined);
  assert.deepEqual([v.entries, v.lastSeq], [5, 5]);
});

test("a stopped server rejects the read; once it is back the chain reads intact from the same cursor", async () => {
  await append(3, "first");
  const cursor = await intactCursor();
  await server.stop();
  await assert.rejects(verifyAuditRange(js, cursor));
  await server.restart();
  const deadline = Date.now() + 20_000;
  while (
    nc.isClosed() ||
    (await nc.flush().then(
      () => false,
      () => true,
    ))
  ) {
    assert.ok(Date.now() < deadline, "reconnected");
    await new Promise((r) => setTimeout(r, 100));
  }
  await append(1, "after");
  const v = await verifyAuditRange(js, cursor);
  assert.equal(v.brokenAt, undefined);
  assert.deepEqual([v.entries, v.lastSeq], [4, 4]);
});

test("a really broken chain is still reported broken, not unavailable", async () => {
  await append(2, "first");
  const cursor = await intactCursor();
  await js.publish(auditSubject, new TextEncoder().encode("null"));
  const v = await verifyAuditRange(js, cursor);
  assert.deepEqual([v.brokenAt, v.reason, v.entries], [3, "entry is not a valid record", 2]);
  await recreate();
  await append(2, "first");
  const c2 = await intactCursor();
  const entry = { at: new Date().toISOString(), kind: "http", action: "forged", result: "200" };
  await js.publish(
    auditSubject,
    new TextEncoder().encode(JSON.stringify({ prev: c2.hash, hash: c2.hash, entry })),
  );
  const w = await verifyAuditRange(js, c2);
  assert.deepEqual([w.brokenAt, w.reason, w.entries], [3, "entry hash does not match", 2]);
});
