/**
 * Least privilege, proven against a real nats-server in operator (JWT) mode with the user
 * permissions the stack issues: nothing anonymous or unknown connects; a party cannot read another
 * party's subjects, consumer or share bucket, cannot speak as another party; the API cannot read
 * shares or protocol traffic; in the control account workers and the API cannot write the tenant
 * registry and workers cannot read nonces or the audit trail; and tenants, each in its own account,
 * cannot see each other's messages or buckets even on identical subjects and bucket names.
 * Every denial is paired with the allowed counterpart, so no test can pass vacuously.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { newUser, startTrustedServer, type TrustedServer } from "@custody/natsd";
import {
  AUDIT_STREAM,
  auditSubject,
  KEYS_BUCKET,
  NONCE_BUCKET,
  partyConsumer,
  REQUEST_STREAM,
  RESULT_CONSUMER,
  RESULT_STREAM,
  shareBucket,
  TENANTS_BUCKET,
  WEBHOOK_CLAIMS_BUCKET,
  WEBHOOKS_BUCKET,
} from "@custody/proto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createAccount } from "@nats-io/nkeys";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  API_INBOX,
  AuditLog,
  apiPermissions,
  connectNats,
  controlApiPermissions,
  controlWorkerPermissions,
  partyInbox,
  provisionControl,
  provisionTenant,
  TenantRegistry,
  type UserCredentials,
  verifyAuditChain,
  workerPermissions,
} from "../src/index.js";

let broker: TrustedServer;
let dir: string;
let url: string;
/**
 * Tenant t1: `t1` (full rights, provisioning), `api`, `p1`, `p2`. Tenant t2: `t2` (full rights).
 * Control account: `ctl` (full rights, provisioning), `capi`, `cp1`.
 */
const conns: Record<string, NatsConnection> = {};
const enc = new TextEncoder();
const dec = new TextDecoder();

function connectAs(credentials: UserCredentials, name: string, inboxPrefix?: string) {
  return connectNats({ servers: [url], credentials, name, inboxPrefix, timeoutMs: 5000 });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-perms-"));
  broker = await startTrustedServer({ dir, tenants: ["t1", "t2"] });
  url = broker.server.url;
  const control = broker.account("control");
  const t1 = broker.account("t1");

  conns.ctl = await connectAs(await newUser(control, "control-admin"), "control-admin");
  await provisionControl(conns.ctl);
  for (const t of ["t1", "t2"]) {
    conns[t] = await connectAs(await newUser(broker.account(t), `${t}-admin`), `${t}-admin`);
    await provisionTenant(conns[t]!, { parties: [1, 2] });
  }

  conns.api = await connectAs(await newUser(t1, "api", apiPermissions()), "api", API_INBOX);
  for (const p of [1, 2]) {
    conns[`p${p}`] = await connectAs(
      await newUser(t1, `p${p}`, workerPermissions(p)),
      `p${p}`,
      partyInbox(p),
    );
  }
  conns.capi = await connectAs(await newUser(control, "capi", controlApiPermissions()), "capi", API_INBOX);
  conns.cp1 = await connectAs(
    await newUser(control, "cp1", controlWorkerPermissions(1)),
    "cp1",
    partyInbox(1),
  );
});
after(async () => {
  for (const c of Object.values(conns)) await c.close();
  await broker?.server.stop();
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

/** Collects what a subscription receives (after the server has registered it). */
async function collect(nc: NatsConnection, subject: string): Promise<Msg[]> {
  const got: Msg[] = [];
  nc.subscribe(subject, {
    callback: (err, m) => {
      if (!err) got.push(m);
    },
  });
  await nc.flush();
  return got;
}

/** Waits until `check` holds (or gives up after `ms`). */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** Answers every request on `subject` with `reply`. */
function answer(nc: NatsConnection, subject: string, reply = "ok") {
  return nc.subscribe(subject, {
    callback: (_e, m) => {
      m.respond(enc.encode(reply));
    },
  });
}

test("no credentials, or an unknown identity, cannot connect", async () => {
  await assert.rejects(connect({ servers: [url], maxReconnectAttempts: 0, reconnect: false }));
  // a user JWT signed by an account the operator never signed
  const stranger = await newUser(createAccount(), "stranger");
  await assert.rejects(connectAs(stranger, "stranger").then((c) => c.close()));
  // a known user's JWT without that user's seed
  const known = await newUser(broker.account("t1"), "known", workerPermissions(1));
  await assert.rejects(connectAs({ jwt: known.jwt, seed: stranger.seed }, "impostor").then((c) => c.close()));
  // ...while the genuine credentials connect
  const ok = await connectAs(known, "known", partyInbox(1));
  await ok.flush();
  await ok.close();
});

test("a party cannot speak as another party", async () => {
  for (const subject of [
    "custody.s.abc.m.1.2",
    "custody.s.op.join.2",
    "custody.res.op.2",
    "custody.res.op.2.progress",
    "custody.hb.2.w1",
  ]) {
    await assert.rejects(conns.p1!.request(subject, new Uint8Array(), { timeout: 1000 }), denied, subject);
  }
  // ...while it speaks as itself: protocol messages and joins reach the peer, results are stored
  const subs = [answer(conns.p2!, "custody.s.abc.m.2.1"), answer(conns.p2!, "custody.s.op.join.1")];
  await conns.p2!.flush();
  for (const subject of ["custody.s.abc.m.2.1", "custody.s.op.join.1"]) {
    const r = await conns.p1!.request(subject, new Uint8Array(), { timeout: 2000 });
    assert.equal(dec.decode(r.data), "ok", subject);
  }
  for (const s of subs) s.unsubscribe();
  const ack = await jetstream(conns.p1!).publish("custody.res.op.1", new Uint8Array([1]));
  assert.equal(ack.stream, RESULT_STREAM);
  const progress = await jetstream(conns.p1!).publish("custody.res.op.1.progress", new Uint8Array([1]));
  assert.equal(progress.stream, RESULT_STREAM);
});

test("only the API may read or write webhook subscriptions and delivery claims", async () => {
  for (const bucket of [WEBHOOKS_BUCKET, WEBHOOK_CLAIMS_BUCKET]) {
    const party = await new Kvm(conns.p1!).open(bucket);
    await assert.rejects(party.get("sub.x"), denied, bucket);
    await assert.rejects(party.put("sub.x", new Uint8Array([1])), denied, bucket);
    await assert.rejects(
      conns.p1!.request(`$KV.${bucket}.sub.x`, new Uint8Array(), { timeout: 1000 }),
      denied,
      bucket,
    );
    // ...while the API uses both (by key)
    const api = await new Kvm(conns.api!).open(bucket);
    await api.create("sub.api", new Uint8Array([3]));
    await assert.rejects(api.create("sub.api", new Uint8Array([4])), /wrong last sequence/);
    assert.deepEqual([...(await api.get("sub.api"))!.value], [3]);
  }
});

test("a party cannot listen to another party's messages or inbox", async () => {
  const [a, b, c, own, joins, inbox] = await Promise.all([
    subscribeError(conns.p1!, "custody.s.*.m.2.*"),
    subscribeError(conns.p1!, "custody.s.>"),
    subscribeError(conns.p1!, `${partyInbox(2)}.>`),
    subscribeError(conns.p1!, "custody.s.*.m.1.*"),
    subscribeError(conns.p1!, "custody.s.*.join.*"),
    subscribeError(conns.p1!, `${partyInbox(1)}.x.>`),
  ]);
  assert.ok(denied(a));
  assert.ok(denied(b));
  assert.ok(denied(c));
  // ...while its own inbox, its messages and everybody's joins are open to it
  assert.equal(own, undefined);
  assert.equal(joins, undefined);
  assert.equal(inbox, undefined);
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
  // nor speak as a party (protocol messages, results)
  for (const subject of ["custody.s.abc.m.1.2", "custody.res.op.1"]) {
    await assert.rejects(conns.api!.request(subject, new Uint8Array(), { timeout: 1000 }), denied, subject);
  }
  // ...while its own buckets, requests and the result consumer work
  const keys = await new Kvm(conns.api!).open(KEYS_BUCKET);
  await keys.put("key_api", new Uint8Array([7]));
  assert.deepEqual([...(await keys.get("key_api"))!.value], [7]);
  const ack = await jetstream(conns.api!).publish("custody.req.sign.op_api", new Uint8Array([1]));
  assert.equal(ack.stream, REQUEST_STREAM);
  await jetstream(conns.api!).consumers.get(RESULT_STREAM, RESULT_CONSUMER);
});

test("in the control account only the operator writes the tenant registry; workers may read it", async () => {
  const entry = { tenant: "t1", account: broker.account("t1").getPublicKey(), users: {} };
  await (await TenantRegistry.open(conns.ctl!)).put(entry);
  for (const who of ["cp1", "capi"]) {
    const registry = await TenantRegistry.open(conns[who]!);
    await assert.rejects(registry.put({ ...entry, tenant: "evil" }), denied, who);
    await assert.rejects(
      conns[who]!.request(`$KV.${TENANTS_BUCKET}.evil`, enc.encode("{}"), { timeout: 1000 }),
      denied,
      who,
    );
    // ...while reading it works
    assert.deepEqual(await registry.get("t1"), entry, who);
  }
  const listed = await (await TenantRegistry.open(conns.cp1!)).list();
  assert.deepEqual(
    listed.map((e) => e.tenant),
    ["t1"],
  );
  assert.equal(await (await TenantRegistry.open(conns.ctl!)).get("evil"), undefined);
});

test("no service identity may create a consumer in the control account (one could deliver into the audit stream)", async () => {
  for (const who of ["cp1", "capi"]) {
    for (const stream of [`KV_${TENANTS_BUCKET}`, AUDIT_STREAM]) {
      for (const subject of [`$JS.API.CONSUMER.CREATE.${stream}`, `$JS.API.CONSUMER.CREATE.${stream}.x.>`]) {
        await assert.rejects(
          conns[who]!.request(subject, enc.encode(JSON.stringify({ stream_name: stream })), {
            timeout: 1000,
          }),
          denied,
          `${who} ${subject}`,
        );
      }
    }
    // ...yet each hears registry updates on a plain subscription
    const seen: string[] = [];
    const stop = await (await TenantRegistry.open(conns[who]!)).watch(
      (e) => seen.push(e.tenant),
      (err) => assert.fail(String(err)),
    );
    await (await TenantRegistry.open(conns.ctl!)).put({
      tenant: `late-${who}`,
      account: broker.account("t2").getPublicKey(),
      users: {},
    });
    await until(() => seen.includes(`late-${who}`));
    assert.ok(seen.includes(`late-${who}`), `${who} hears the new entry`);
    stop();
  }
});

test("a worker cannot read request nonces in the control account", async () => {
  const nonces = await new Kvm(conns.cp1!).open(NONCE_BUCKET);
  await assert.rejects(nonces.get("n1"), denied);
  await assert.rejects(nonces.put("n1", new Uint8Array([1])), denied);
  for (const subject of [
    `$JS.API.STREAM.INFO.KV_${NONCE_BUCKET}`,
    `$JS.API.DIRECT.GET.KV_${NONCE_BUCKET}.$KV.${NONCE_BUCKET}.n1`,
  ]) {
    await assert.rejects(conns.cp1!.request(subject, new Uint8Array(), { timeout: 1000 }), denied, subject);
  }
  // ...while the API records and reads them
  const api = await new Kvm(conns.capi!).open(NONCE_BUCKET);
  await api.create("n1", new Uint8Array([1]));
  assert.deepEqual([...(await api.get("n1"))!.value], [1]);
});

test("a worker cannot read or write the audit trail", async () => {
  await assert.rejects(verifyAuditChain(jetstream(conns.cp1!, { timeout: 2000 })), denied);
  for (const subject of [
    auditSubject,
    `$JS.API.STREAM.INFO.${AUDIT_STREAM}`,
    `$JS.API.DIRECT.GET.${AUDIT_STREAM}`,
    `$JS.API.STREAM.MSG.GET.${AUDIT_STREAM}`,
  ]) {
    await assert.rejects(conns.cp1!.request(subject, new Uint8Array(), { timeout: 1000 }), denied, subject);
  }
  // ...while the API appends to it and reads it back
  const errors: unknown[] = [];
  const log = new AuditLog(jetstream(conns.capi!), (e) => errors.push(e));
  await log.append({ at: new Date().toISOString(), kind: "http", action: "GET /v1/x", result: "200" });
  assert.deepEqual(errors, []);
  const v = await verifyAuditChain(jetstream(conns.capi!));
  assert.equal(v.entries, 1);
  assert.equal(v.brokenAt, undefined);
});

test("a worker heartbeats only as itself, and only the API hears heartbeats", async () => {
  await assert.rejects(conns.cp1!.request("custody.hb.2.w1", new Uint8Array(), { timeout: 1000 }), denied);
  assert.ok(denied(await subscribeError(conns.cp1!, "custody.hb.>")));
  const heard = await collect(conns.capi!, "custody.hb.>");
  conns.cp1!.publish("custody.hb.1.w1", new Uint8Array([1]));
  await conns.cp1!.flush();
  await until(() => heard.length > 0);
  assert.deepEqual(
    heard.map((m) => m.subject),
    ["custody.hb.1.w1"],
  );
});

test("tenants are isolated at the broker: same subjects, same bucket names, separate data", async () => {
  const subject = "custody.s.x.m.1.2";
  const in1 = await collect(conns.t1!, subject);
  const in2 = await collect(conns.t2!, subject);
  conns.t1!.publish(subject, enc.encode("from t1"));
  conns.t2!.publish(subject, enc.encode("from t2"));
  await Promise.all([conns.t1!.flush(), conns.t2!.flush()]);
  await until(() => in1.length > 0 && in2.length > 0);
  await new Promise((r) => setTimeout(r, 300)); // time for a leak to show
  assert.deepEqual(
    in1.map((m) => dec.decode(m.data)),
    ["from t1"],
  );
  assert.deepEqual(
    in2.map((m) => dec.decode(m.data)),
    ["from t2"],
  );

  const keys1 = await new Kvm(conns.t1!).open(KEYS_BUCKET);
  const keys2 = await new Kvm(conns.t2!).open(KEYS_BUCKET);
  await keys1.put("key_iso", enc.encode("t1"));
  assert.equal(dec.decode((await keys1.get("key_iso"))!.value), "t1");
  assert.equal(await keys2.get("key_iso"), null);
  await keys2.put("key_iso", enc.encode("t2"));
  assert.equal(dec.decode((await keys1.get("key_iso"))!.value), "t1");
  assert.equal(dec.decode((await keys2.get("key_iso"))!.value), "t2");

  // nor does a tenant account hold the control account's registry or audit trail
  const jsm1 = await jetstreamManager(conns.t1!);
  await assert.rejects(jsm1.streams.info(`KV_${TENANTS_BUCKET}`), /not found/i);
  await assert.rejects(jsm1.streams.info(AUDIT_STREAM), /not found/i);
  await (await jetstreamManager(conns.ctl!)).streams.info(`KV_${TENANTS_BUCKET}`);
});

test("results reach the API instances one at a time: a second instance gets none while one is unacknowledged", async () => {
  // Several API instances update one operation record per result by compare-and-set; nats-server
  // 2.9 can accept two in-flight updates expecting the same revision, losing a party's report.
  const js = jetstream(conns.t1!);
  for (const party of [1, 2]) await js.publish(`custody.res.op_one_at_a_time.${party}`, Uint8Array.of(party));
  const consumer = await js.consumers.get(RESULT_STREAM, RESULT_CONSUMER);
  const other = await jetstream(conns.t1!).consumers.get(RESULT_STREAM, RESULT_CONSUMER);
  const first = await consumer.next({ expires: 2000 });
  assert.ok(first, "the first result is delivered");
  assert.equal(await other.next({ expires: 1500 }), null, "nothing for another instance while it is unacked");
  first.ack();
  const second = await other.next({ expires: 2000 });
  assert.ok(second, "the next result goes out once the first is acknowledged");
  assert.notEqual(second.seq, first.seq);
  second.ack();
});
