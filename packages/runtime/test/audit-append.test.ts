/**
 * Appending to the audit chain against a real nats-server: while a process is the only writer an
 * append is a single publish (its remembered head, no stream reads); two writers interleaving still
 * extend one intact chain (each re-reads the head when the other got in between); and a writer
 * whose stream was deleted and recreated starts the new chain at genesis instead of stalling.
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
import { type AuditEntry, AuditLog, provisionControl, verifyAuditRange } from "../src/index.js";

let dir: string;
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-audit-append-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  js = jetstream(nc, { timeout: 2000 });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await recreate();
});

async function recreate() {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(AUDIT_STREAM).catch(() => false);
  await provisionControl(nc);
}

const entry = (action: string): AuditEntry => ({
  at: new Date().toISOString(),
  kind: "http",
  action,
  result: "200",
});

/** An audit log whose append failures reject the test. */
function log(): { log: AuditLog; errors: unknown[] } {
  const errors: unknown[] = [];
  return { log: new AuditLog(js, (e) => errors.push(e)), errors };
}

async function intact(entries: number) {
  const v = await verifyAuditRange(js);
  assert.deepEqual([v.brokenAt, v.reason, v.entries], [undefined, undefined, entries]);
}

test("a sole writer's append after the first is one publish and no stream read", async () => {
  const { log: a, errors } = log();
  await a.append(entry("first"));
  const seen: string[] = [];
  const spy = nc.subscribe("$JS.API.>", { callback: (_e, m) => void seen.push(m.subject) });
  const published: string[] = [];
  const stored = nc.subscribe(auditSubject, { callback: (_e, m) => void published.push(m.subject) });
  await nc.flush();
  for (let i = 0; i < 5; i++) await a.append(entry(`next ${i}`));
  await nc.flush();
  spy.unsubscribe();
  stored.unsubscribe();
  assert.deepEqual(errors, []);
  assert.deepEqual(seen, [], "no JetStream API request (stream info, last message) per append");
  assert.equal(published.length, 5);
  await intact(6);
});

test("two writers taking turns extend one intact chain", async () => {
  const { log: a, errors: ea } = log();
  const { log: b, errors: eb } = log();
  for (let i = 0; i < 6; i++) {
    await a.append(entry(`a ${i}`));
    await b.append(entry(`b ${i}`));
  }
  await Promise.all([0, 1, 2, 3].flatMap((i) => [a.append(entry(`a+ ${i}`)), b.append(entry(`b+ ${i}`))]));
  assert.deepEqual([ea, eb], [[], []]);
  await intact(20);
});

test("a writer whose stream was recreated starts the new chain at genesis", async () => {
  const { log: a, errors } = log();
  for (let i = 0; i < 3; i++) await a.append(entry(`old ${i}`));
  await recreate();
  await a.append(entry("new 0"));
  await a.append(entry("new 1"));
  assert.deepEqual(errors, []);
  await intact(2);
});
