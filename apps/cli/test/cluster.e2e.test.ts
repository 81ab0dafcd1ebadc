/**
 * The scale-out topology: a 3-node JetStream cluster with every asset replicated three times, and
 * the loss of the node leading the request stream, then of the one leading a party's consumer,
 * under a steady load of DKG, sign and refresh requests: nothing lost, duplicated or mis-signed.
 * A tenant enrolled while the cluster runs is known to every node at once (no restart or reload).
 * (The full set of faults runs in `npm run chaos`.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  ADVISORY_STREAM,
  IDEMPOTENCY_BUCKET,
  KEYS_BUCKET,
  OPERATIONS_BUCKET,
  REQUEST_STREAM,
  RESULT_STREAM,
} from "@custody/proto";
import { connectNats, readCreds } from "@custody/runtime";
import { CustodyClient } from "@custody/sdk";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { CLI_MAIN, loadClient, type Stack } from "../src/index.js";
import { adminConnection } from "./broker.js";
import { PatientClient } from "./chaos/client.js";
import { consumerFor, killLeader } from "./chaos/faults.js";
import { Load, type PoolKey } from "./chaos/load.js";
import { runScenario } from "./chaos/scenario.js";
import { startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
let admin: NatsConnection;
let client: PatientClient;
const keys: PoolKey[] = [];

before(async () => {
  stack = await startTestStack({ cluster: true, parties: 3, workers: 2, ackWaitMs: 5000 });
  admin = await adminConnection(stack);
  client = new PatientClient(() => stack!.apiUrl, stack.admin);
  for (const scheme of ["ed25519", "bip340"] as const) {
    const s = await client.submit("/v1/keys", { scheme, threshold: 2, parties: 3 });
    assert.ok(s.accepted, "DKG accepted");
    const op = await client.settle(s.operation.id, 60_000);
    assert.equal(op?.status, "succeeded", JSON.stringify(op?.error));
    const key = await client.key(op!.keyId);
    keys.push({ id: op!.keyId, scheme, publicKey: key!.publicKey! });
  }
});
after(async () => {
  await admin?.close();
  await stopTestStack(stack);
});

test("three nodes, and every stream and bucket has three replicas", async () => {
  assert.equal(stack!.natsUrls.length, 3);
  const jsm = await jetstreamManager(admin);
  const buckets = [OPERATIONS_BUCKET, KEYS_BUCKET, IDEMPOTENCY_BUCKET].map((b) => `KV_${b}`);
  for (const name of [REQUEST_STREAM, RESULT_STREAM, ADVISORY_STREAM, ...buckets]) {
    const info = await jsm.streams.info(name);
    assert.equal(info.config.num_replicas, 3, `${name} is R3`);
    assert.equal(info.cluster?.replicas?.length, 2, `${name} has two followers`);
  }
});

test("losing the stream leader, then a consumer leader, under load loses nothing", async () => {
  const load = new Load({ client, keys, users: 3, thinkMs: 100, followMs: 2000 });
  const row = await runScenario(
    { stack: stack!, admin, client, load, keys },
    {
      name: "leader loss",
      injections: 2,
      gapMs: 3000,
      inject: async (c, i) =>
        `killed ${await killLeader(c.stack, c.admin, 3000, i === 0 ? undefined : consumerFor(0))}`,
    },
    90_000,
  );
  const a = row.audit;
  assert.ok(a.accepted > 0 && a.succeeded > 0, `work was done (${a.succeeded}/${a.accepted})`);
  assert.deepEqual(a.lost, [], "nothing lost");
  assert.deepEqual(a.duplicated, [], "nothing duplicated");
  assert.deepEqual(a.invalid, [], "every signature verifies");
  assert.equal(a.keysUsable.ok, a.keysUsable.of, "every key still signs");
  for (const [code] of a.failed) assert.notEqual(code, "untyped", "failures carry a typed reason");
});

test("a tenant enrolled at runtime reaches every node: its account, replicated data plane and keys", async () => {
  const profile = join(stack!.options.dir, "profile.json");
  const r = spawnSync(
    process.execPath,
    [CLI_MAIN, "tenants", "create", "east", "--profile", profile, "--json"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const t = JSON.parse(r.stdout) as { seedFile: string; credentialFile: string };
  for (const url of stack!.natsUrls) {
    const nc = await connectNats({
      servers: [url],
      credentials: readCreds(stack!.tenantAdminCreds("east")),
      tls: stack!.pki.client("admin"),
      name: "east-admin",
      timeoutMs: 5000,
    });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(REQUEST_STREAM);
      assert.equal(info.config.num_replicas, 3, `east's request stream is R3 (via ${url})`);
    } finally {
      await nc.close();
    }
  }
  const east = new CustodyClient(stack!.apiUrl, loadClient(t));
  const op = await east.wait(await east.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  assert.deepEqual(
    (await east.listKeys()).map((k) => k.id),
    [op.keyId],
  );
});
