/**
 * Least privilege, proven against a real nats-server with the configuration `custody dev` renders:
 * nothing anonymous or unknown connects; a party cannot read another party's subjects, consumer or
 * share bucket, cannot speak as another party; the API cannot read shares or protocol traffic.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { partyConsumer, REQUEST_STREAM, shareBucket } from "@custody/proto";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  API_INBOX,
  accountsConfig,
  connectNats,
  createIdentity,
  type Identity,
  partyInbox,
  provision,
} from "../src/index.js";

let server: NatsServer;
let dir: string;
const who: Record<string, Identity> = {};
const conns: Record<string, NatsConnection> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-perms-"));
  for (const n of ["admin", "api", "p1", "p2", "stranger"]) who[n] = createIdentity(n, join(dir, `${n}.nk`));
  server = await NatsServer.start({
    dir: join(dir, "nats"),
    config: accountsConfig({
      admin: who.admin!.publicKey,
      api: [who.api!.publicKey],
      workers: [
        { party: 1, publicKey: who.p1!.publicKey },
        { party: 2, publicKey: who.p2!.publicKey },
      ],
    }),
  });
  const admin = await connectNats({ servers: [server.url], seedFile: who.admin!.seedFile, name: "admin" });
  await provision(admin, { parties: [1, 2] });
  conns.admin = admin;
  conns.api = await connectNats({
    servers: [server.url],
    seedFile: who.api!.seedFile,
    name: "api",
    inboxPrefix: API_INBOX,
  });
  conns.p1 = await connectNats({
    servers: [server.url],
    seedFile: who.p1!.seedFile,
    name: "p1",
    inboxPrefix: partyInbox(1),
  });
  conns.p2 = await connectNats({
    servers: [server.url],
    seedFile: who.p2!.seedFile,
    name: "p2",
    inboxPrefix: partyInbox(2),
  });
});
after(async () => {
  for (const c of Object.values(conns)) await c.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const denied = (e: unknown) =>
  /Permissions Violation|permission/i.test(String(e) + String((e as Error)?.cause ?? ""));

/** Resolves with the error a subscription gets (a denied subscribe is reported asynchronously). */
async function subscribeError(nc: NatsConnection, subject: string): Promise<unknown> {
  return new Promise((resolve) => {
    nc.subscribe(subject, {
      callback: (err) => {
        if (err) resolve(err);
      },
    });
    setTimeout(() => resolve(undefined), 2000);
  });
}

test("no credentials, or an unknown key, cannot connect", async () => {
  await assert.rejects(connect({ servers: [server.url], maxReconnectAttempts: 0, reconnect: false }));
  await assert.rejects(
    connectNats({ servers: [server.url], seedFile: who.stranger!.seedFile, name: "x" }).then((c) =>
      c.close(),
    ),
  );
});

test("a party cannot speak as another party", async () => {
  for (const subject of [
    "custody.s.abc.m.1.2",
    "custody.s.op.join.2",
    "custody.res.op.2",
    "custody.hb.2.w1",
  ]) {
    await assert.rejects(conns.p1!.request(subject, new Uint8Array(), { timeout: 1000 }), denied, subject);
  }
});

test("a party cannot listen to another party's messages or inbox", async () => {
  assert.ok(denied(await subscribeError(conns.p1!, "custody.s.*.m.2.*")));
  assert.ok(denied(await subscribeError(conns.p1!, "custody.s.>")));
  assert.ok(denied(await subscribeError(conns.p1!, `${partyInbox(2)}.>`)));
});

test("a party cannot use another party's consumer or share bucket", async () => {
  const js = jetstream(conns.p1!, { timeout: 2000 });
  await assert.rejects(js.consumers.get(REQUEST_STREAM, partyConsumer(2)), denied);
  const other = await new Kvm(conns.p1!).open(shareBucket(2));
  await assert.rejects(other.get("key_x.0"), denied);
  await assert.rejects(other.put("key_x.0", new Uint8Array([1])), denied);
  await assert.rejects(
    conns.p1!.request(`$KV.${shareBucket(2)}.key_x.0`, new Uint8Array(), { timeout: 1000 }),
    denied,
  );
  // ...while its own work fine
  await jetstream(conns.p1!).consumers.get(REQUEST_STREAM, partyConsumer(1));
  const own = await new Kvm(conns.p1!).open(shareBucket(1));
  await own.put("key_x.0", new Uint8Array([1]));
  assert.deepEqual([...(await own.get("key_x.0"))!.value], [1]);
});

test("the API cannot read shares or protocol traffic", async () => {
  const shares = await new Kvm(conns.api!).open(shareBucket(1));
  await assert.rejects(shares.get("key_x.0"), denied);
  await assert.rejects(shares.put("key_x.0", new Uint8Array([2])), denied);
  await assert.rejects(
    conns.api!.request(
      `$JS.API.DIRECT.GET.KV_${shareBucket(1)}.$KV.${shareBucket(1)}.key_x.0`,
      new Uint8Array(),
      { timeout: 1000 },
    ),
    denied,
  );
  assert.ok(denied(await subscribeError(conns.api!, "custody.s.*.m.1.*")));
  await assert.rejects(
    jetstream(conns.api!, { timeout: 2000 }).consumers.get(REQUEST_STREAM, partyConsumer(1)),
    denied,
  );
});
