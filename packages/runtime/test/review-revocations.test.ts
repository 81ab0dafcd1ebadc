/**
 * Adversarial review: a compromised API (it may write the tenant's revocation bucket) deletes a
 * revocation after parties acted on it, or overwrites it with a value that is no revocation record.
 * A list that has seen the revocation keeps refusing the credential; only a list that never read it
 * (a process started after the deletion) is fooled, the documented limit of a broker-held list.
 * Real nats-server in operator mode with the stack's API and worker permissions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { newUser, startTrustedServer, type TrustedServer } from "@custody/natsd";
import { REVOCATIONS_BUCKET } from "@custody/proto";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  API_INBOX,
  apiPermissions,
  connectNats,
  credentialId,
  partyInbox,
  provisionTenant,
  RevocationList,
  type UserCredentials,
  workerPermissions,
} from "../src/index.js";

let broker: TrustedServer;
let dir: string;
const conns: Record<string, NatsConnection> = {};
const connectAs = (credentials: UserCredentials, name: string, inboxPrefix?: string) =>
  connectNats({ servers: [broker.server.url], credentials, name, inboxPrefix, timeoutMs: 5000 });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-review-revocations-"));
  broker = await startTrustedServer({ dir, tenants: ["t1"] });
  conns.admin = await connectAs(await newUser(broker.account("t1"), "t1-admin"), "t1-admin");
  await provisionTenant(conns.admin, { parties: [1] });
  conns.api = await connectAs(await newUser(broker.account("t1"), "api", apiPermissions()), "api", API_INBOX);
  conns.p1 = await connectAs(
    await newUser(broker.account("t1"), "p1", workerPermissions(1)),
    "p1",
    partyInbox(1),
  );
});
after(async () => {
  for (const c of Object.values(conns)) await c.close();
  await broker?.server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a revocation the API deletes or overwrites later still applies wherever it was seen", async () => {
  const issuer = "eyJ2IjoxfQ.aXNzdWVyLXJldmlldw";
  const leaf = `${issuer}~eyJ2IjoxfQ.bGVhZi1yZXZpZXc`;
  const api = await RevocationList.open(conns.api!);
  const party = await RevocationList.open(conns.p1!);
  const record = await api.revoke(credentialId(issuer), "admin left", new Date("2030-01-01T00:00:00Z"));
  assert.equal(await party.isRevoked(leaf), true);
  // The compromised API removes the revocation (its permissions allow writing the bucket).
  const kv = await new Kvm(conns.api!).open(REVOCATIONS_BUCKET);
  await kv.delete(credentialId(issuer));
  assert.equal(await (await RevocationList.open(conns.p1!)).isRevoked(leaf), false, "a fresh list is fooled");
  for (const list of [party, api]) {
    assert.equal(await list.isRevoked(leaf), true);
    assert.deepEqual(await list.revocationOf(leaf), record);
  }
  // A value that is not a revocation record is still a revocation, and stays one once read.
  await kv.put(credentialId(leaf), new TextEncoder().encode("null"));
  const fresh = await RevocationList.open(conns.p1!);
  assert.deepEqual(await fresh.get(credentialId(leaf)), {
    id: credentialId(leaf),
    revokedAt: "",
    reason: "",
  });
  await kv.delete(credentialId(leaf));
  assert.equal(await fresh.isRevoked(leaf), true);
});
