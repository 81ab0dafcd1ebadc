/**
 * The revocation list against a real nats-server in operator (JWT) mode with the stack's user
 * permissions: the API records a revocation, a party's worker sees it with direct gets only and
 * cannot write or remove one, a revocation stays in its tenant's account, revoking twice keeps the
 * first record, revoking an issuer's credential revokes every credential delegated under it (at
 * the API and at the party), and a list that cannot be read throws instead of answering "not revoked".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { newUser, startTrustedServer, type TrustedServer } from "@custody/natsd";
import { REVOCATIONS_BUCKET } from "@custody/proto";
import { jetstreamManager } from "@nats-io/jetstream";
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
import { chainIds } from "../src/revocations.js";

let broker: TrustedServer;
let dir: string;
const conns: Record<string, NatsConnection> = {};

const connectAs = (credentials: UserCredentials, name: string, inboxPrefix?: string) =>
  connectNats({ servers: [broker.server.url], credentials, name, inboxPrefix, timeoutMs: 5000 });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-revocations-"));
  broker = await startTrustedServer({ dir, tenants: ["t1", "t2"] });
  for (const t of ["t1", "t2"]) {
    conns[t] = await connectAs(await newUser(broker.account(t), `${t}-admin`), `${t}-admin`);
    await provisionTenant(conns[t]!, { parties: [1] });
    conns[`api-${t}`] = await connectAs(
      await newUser(broker.account(t), "api", apiPermissions()),
      `api-${t}`,
      API_INBOX,
    );
  }
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

const denied = (e: unknown) =>
  /Permissions Violation|permission/i.test(String(e) + String((e as Error)?.cause ?? ""));
/** Two distinct credential strings (the list treats credentials as opaque strings). */
const leaked = "eyJ2IjoxfQ.c2lnbmF0dXJlLW9mLWxlYWtlZA";
const other = "eyJ2IjoxfQ.c2lnbmF0dXJlLW9mLW90aGVy";

test("credential ids are the domain-separated hash of the exact string", () => {
  assert.match(credentialId(leaked), /^[0-9a-f]{64}$/);
  assert.equal(credentialId(leaked), credentialId(`${leaked}`));
  assert.notEqual(credentialId(leaked), credentialId(other));
  assert.notEqual(credentialId(leaked), credentialId(`${leaked} `));
});

test("the API revokes, a party sees it with direct gets and cannot write", async () => {
  const api = await RevocationList.open(conns["api-t1"]!);
  const party = await RevocationList.open(conns.p1!);
  assert.equal(await party.isRevoked(leaked), false);
  const record = await api.revoke(credentialId(leaked), "laptop stolen", new Date("2030-01-01T00:00:00Z"));
  assert.deepEqual(record, {
    id: credentialId(leaked),
    revokedAt: "2030-01-01T00:00:00.000Z",
    reason: "laptop stolen",
  });
  assert.equal(await party.isRevoked(leaked), true);
  assert.equal(await api.isRevoked(leaked), true);
  assert.equal(await party.isRevoked(other), false);
  assert.deepEqual(await party.get(credentialId(leaked)), record);
  // A second revocation keeps the first record.
  const again = await api.revoke(credentialId(leaked), "again", new Date("2031-01-01T00:00:00Z"));
  assert.deepEqual(again, record);
  // A party may neither add nor remove a revocation...
  await assert.rejects(party.revoke(credentialId(other), "party"), denied);
  await assert.rejects(
    conns.p1!.request(`$KV.${REVOCATIONS_BUCKET}.${credentialId(leaked)}`, new Uint8Array(), {
      timeout: 1000,
    }),
    denied,
  );
  assert.equal(await party.isRevoked(leaked), true);
  assert.equal(await party.isRevoked(other), false);
  await assert.rejects(api.get("not-an-id"), RangeError);
});

test("revoking an issuer's credential revokes its delegated credentials, not the reverse", async () => {
  const issuer = "eyJ2IjoxfQ.aXNzdWVyLWNyZWRlbnRpYWw";
  const leaf = `${issuer}~eyJ2IjoxfQ.bGVhZg`;
  const sibling = `${issuer}~eyJ2IjoxfQ.c2libGluZw`;
  assert.deepEqual(chainIds(issuer), [credentialId(issuer)]);
  assert.deepEqual(chainIds(leaf), [credentialId(issuer), credentialId(leaf)]);
  assert.deepEqual(chainIds("a~b~c"), [credentialId("a"), credentialId("a~b"), credentialId("a~b~c")]);
  const api = await RevocationList.open(conns["api-t1"]!);
  const party = await RevocationList.open(conns.p1!);
  // The leaf alone: the issuer and its other leaves stay valid.
  const own = await api.revoke(credentialId(leaf), "leaf lost", new Date("2030-01-01T00:00:00Z"));
  assert.equal(await party.isRevoked(leaf), true);
  assert.deepEqual(await party.revocationOf(leaf), own);
  assert.equal(await party.isRevoked(issuer), false);
  assert.equal(await party.isRevoked(sibling), false);
  assert.equal(await party.revocationOf(sibling), undefined);
  // The issuer: every leaf under it, at the API and at the party; the issuer's record comes first.
  const top = await api.revoke(credentialId(issuer), "admin left", new Date("2030-02-01T00:00:00Z"));
  for (const list of [api, party]) {
    assert.equal(await list.isRevoked(issuer), true);
    assert.equal(await list.isRevoked(sibling), true);
    assert.deepEqual(await list.revocationOf(sibling), top);
    assert.deepEqual(await list.revocationOf(leaf), top);
  }
  // Another issuer's leaf is untouched.
  assert.equal(await party.isRevoked(`${other}~eyJ2IjoxfQ.bGVhZg`), false);
});

test("a revocation stays in its tenant's account", async () => {
  const t1 = await RevocationList.open(conns["api-t1"]!);
  const t2 = await RevocationList.open(conns["api-t2"]!);
  await t1.revoke(credentialId("tenant-one-only"), "t1");
  assert.equal(await t1.isRevoked("tenant-one-only"), true);
  assert.equal(await t2.isRevoked("tenant-one-only"), false);
});

test("a list that cannot be read throws instead of answering not revoked", async () => {
  const t2 = await RevocationList.open(conns["api-t2"]!);
  assert.equal(await t2.isRevoked(other), false);
  const jsm = await jetstreamManager(conns.t2!);
  await jsm.streams.delete(`KV_${REVOCATIONS_BUCKET}`);
  await assert.rejects(t2.isRevoked(other));
  const closed = await connectAs(
    await newUser(broker.account("t1"), "p1b", workerPermissions(1)),
    "p1b",
    partyInbox(1),
  );
  const list = await RevocationList.open(closed);
  await closed.close();
  await assert.rejects(list.isRevoked(other));
});
