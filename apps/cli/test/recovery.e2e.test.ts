/**
 * The recovery drill against the real dev stack: keys are created, used and one is refreshed;
 * every party and the API are backed up; the broker's whole JetStream store is deleted and the
 * stack starts again on the same directory (same trust, identities, KEKs and worker ledgers);
 * the backups are restored and every key signs again at its active epoch under the same public
 * key. A backup taken before the refresh is refused by the restore (against the API's key records
 * and against the worker ledgers), and when forced past that, by the workers (`state-rolled-back`).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { verifyAuditChain } from "@custody/runtime";
import { CustodyClient } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type Backup,
  BackupFormatError,
  type BackupRecord,
  type BrokerAccess,
  backupApi,
  backupParty,
  brokerAccess,
  LedgerReadError,
  type Manifest,
  type ManifestRecord,
  MissingBucketError,
  RestoreRefusedError,
  readBackup,
  readLedgerEpochs,
  restoreBackups,
  writeBackup,
} from "../src/operator/backup.js";
import { controlConnection, readProfile } from "../src/operator/profile.js";
import { ledgerPath, Stack } from "../src/stack.js";
import { startTestStack, stopTestStack, verifyBip340, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
after(() => stopTestStack(stack));

const PARTIES = [1, 2, 3];
const profileOf = (s: Stack) => join(s.options.dir, "profile.json");
const access = () => brokerAccess(profileOf(stack!));
const clientOf = (s: Stack) => new CustodyClient(s.apiUrl, s.admin);
const verifiers = { ed25519: verifyEd25519, bip340: verifyBip340 } as const;
type Scheme = keyof typeof verifiers;

async function createKey(api: CustodyClient, scheme: Scheme) {
  const op = await api.wait(await api.createKey({ scheme, threshold: 2, parties: 3 }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  const key = await api.getKey(op.keyId);
  assert.match(key.publicKey ?? "", /^[0-9a-f]{64}$/);
  return { id: key.id, scheme, publicKey: key.publicKey! };
}

/** Signs a fresh message; returns the finished operation. */
async function sign(api: CustodyClient, keyId: string) {
  const message = randomBytes(32);
  const op = await api.wait(await api.sign(keyId, { message: message.toString("hex") }), 60_000);
  return { op, message };
}

/** Signs and checks the signature with an independent verifier, under `publicKey` at `epoch`. */
async function signsAt(
  api: CustodyClient,
  key: { id: string; scheme: Scheme; publicKey: string },
  epoch: number,
) {
  const { op, message } = await sign(api, key.id);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  assert.equal(op.signature?.publicKey, key.publicKey, "the same public key");
  assert.equal(op.signature?.epoch, epoch, "the active epoch");
  assert.ok(
    verifiers[key.scheme](key.publicKey, message, op.signature!.signature),
    `${key.scheme} signature verifies`,
  );
}

/** Stops the stack, deletes the broker's JetStream store and starts the stack again on the same directory. */
async function freshBroker(s: Stack): Promise<Stack> {
  await s.stop();
  const store = join(s.options.dir, "nats", "jetstream");
  assert.ok(existsSync(store), "the broker's JetStream store is where the stack keeps it");
  rmSync(store, { recursive: true, force: true });
  return Stack.start({ ...s.options });
}

/** The tenant KV records the broker holds (read without an API request, so the audit chain stays empty). */
async function kvRecords(): Promise<number> {
  let n = 0;
  for (const b of [
    await backupApi(access()),
    ...(await Promise.all(PARTIES.map((p) => backupParty(access(), p)))),
  ])
    n += b.records.filter((r) => r.type === "kv").length;
  return n;
}

/** The epochs of a key's share records in a party backup (default tenant). */
const epochsIn = (b: Backup, keyId: string) =>
  b.manifest.kind === "party" ? b.manifest.keys.default?.[keyId]?.shares.map((s) => s.epoch) : undefined;

const refused = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof RestoreRefusedError, String(e));
  assert.ok(
    e.reasons.some((r) => pattern.test(r)),
    `a reason matches ${pattern}: ${JSON.stringify(e.reasons)}`,
  );
  return true;
};

test("recovery drill: back up, lose the broker, restore, sign again; a retired backup is refused", async () => {
  stack = await startTestStack();
  const dir = stack.options.dir;
  const file = (name: string) => join(dir, `${name}.backup`);
  const ledgers = PARTIES.map((p) => ledgerPath(dir, p, 1));
  let api = clientOf(stack);

  const ed = await createKey(api, "ed25519");
  const bip = await createKey(api, "bip340");
  await signsAt(api, ed, 0);
  await signsAt(api, bip, 0);

  // Backups before the refresh: these become retired.
  for (const p of PARTIES) writeBackup(file(`old-p${p}`), await backupParty(access(), p));
  writeBackup(file("old-api"), await backupApi(access()));
  await assert.rejects(backupParty(access(), 4), MissingBucketError);

  const refreshed = await api.wait(await api.refresh(ed.id), 60_000);
  assert.equal(refreshed.status, "succeeded", JSON.stringify(refreshed.error));
  await signsAt(api, ed, 1);
  for (const p of PARTIES) writeBackup(file(`p${p}`), await backupParty(access(), p));
  writeBackup(file("api"), await backupApi(access()));

  // What the manifests say: the share records present per key (from their names; nothing opened).
  const p1 = readBackup(file("p1"));
  assert.deepEqual(epochsIn(p1, ed.id), [1]);
  assert.deepEqual(epochsIn(p1, bip.id), [0]);
  assert.equal(p1.manifest.kind === "party" && p1.manifest.keys.default?.[ed.id]?.state, true);
  assert.deepEqual(epochsIn(readBackup(file("old-p1")), ed.id), [0]);
  const apiBackup = readBackup(file("api"));
  assert.equal(apiBackup.manifest.kind === "api" && apiBackup.manifest.keys.default?.[ed.id]?.epoch, 1);
  const auditEntries = apiBackup.records.filter((r) => r.type === "audit").length;
  assert.ok(auditEntries > 0, "the API backup holds the audit stream");

  // A backup whose record does not match its manifest is refused when read.
  const lines = readFileSync(file("p1"), "utf8").split("\n");
  const rec = JSON.parse(lines[1]!) as { value: string };
  const value = Buffer.from(rec.value, "base64");
  value.writeUInt8(value.readUInt8(value.length - 1) ^ 1, value.length - 1);
  lines[1] = JSON.stringify({ ...rec, value: value.toString("base64") });
  writeFileSync(file("tampered"), lines.join("\n"));
  assert.throws(() => readBackup(file("tampered")), BackupFormatError);

  // The broker is lost: a fresh one on the same directory holds nothing.
  stack = await freshBroker(stack);
  api = clientOf(stack);
  assert.equal(await kvRecords(), 0, "the fresh broker holds no records");

  // Retired party backups are refused before anything is written.
  await assert.rejects(
    restoreBackups(access(), [readBackup(file("api")), readBackup(file("old-p1"))]),
    refused(new RegExp(`key ${ed.id} is active at epoch 1; party 1's backup holds epochs \\[0\\]`)),
  );
  await assert.rejects(
    restoreBackups(access(), [readBackup(file("old-api")), readBackup(file("old-p2"))], { ledgers }),
    refused(new RegExp(`saw epoch 1 of key ${ed.id} activated; party 2's backup holds epoch 0 at most`)),
  );
  await assert.rejects(
    restoreBackups(access(), [readBackup(file("old-api"))], { ledgers }),
    refused(new RegExp(`saw epoch 1 of key ${ed.id} activated; the API backup has epoch 0`)),
  );
  await assert.rejects(
    restoreBackups(access(), [readBackup(file("old-p3"))]),
    refused(/no API key records to check party 3's backup against/),
  );
  assert.equal(await kvRecords(), 0, "a refused restore writes nothing");

  // The current backups restore, and a second restore finds every record there already.
  const all = () => [readBackup(file("api")), ...PARTIES.map((p) => readBackup(file(`p${p}`)))];
  const total = all().reduce((n, b) => n + b.records.filter((r) => r.type === "kv").length, 0);
  const report = await restoreBackups(access(), all(), { ledgers });
  assert.deepEqual(
    { created: report.created, skipped: report.skipped, conflicts: report.conflicts },
    { created: total, skipped: 0, conflicts: [] },
  );
  assert.deepEqual(report.audit, { appended: auditEntries, skipped: 0 });
  const again = await restoreBackups(access(), all(), { ledgers });
  assert.deepEqual(
    { created: again.created, skipped: again.skipped, conflicts: again.conflicts },
    { created: 0, skipped: total, conflicts: [] },
  );
  assert.equal(again.audit?.appended, 0);

  await signsAt(api, ed, 1);
  await signsAt(api, bip, 0);
  const nc = await controlConnection(readProfile(profileOf(stack)), "recovery-audit");
  try {
    const chain = await verifyAuditChain(jetstream(nc));
    assert.equal(chain.brokenAt, undefined, chain.reason);
    assert.ok(chain.entries > auditEntries, "the restored chain goes on");
  } finally {
    await nc.close();
  }

  // An old backup into the restored broker: its records differ (a conflict), even when forced.
  await assert.rejects(
    restoreBackups(access(), [readBackup(file("old-p1"))], { force: true }),
    (e: unknown) => {
      assert.ok(e instanceof RestoreRefusedError, String(e));
      assert.ok(
        e.conflicts.includes(`default/custody_shares_p1/${ed.id}.state`),
        JSON.stringify(e.conflicts),
      );
      return true;
    },
  );

  // Forced past the checks into a fresh broker, the old backup still never signs with a retired share.
  stack = await freshBroker(stack);
  api = clientOf(stack);
  const forced = await restoreBackups(
    access(),
    [readBackup(file("old-api")), ...PARTIES.map((p) => readBackup(file(`old-p${p}`)))],
    { ledgers, force: true },
  );
  assert.deepEqual(forced.conflicts, []);
  const { op } = await sign(api, ed.id);
  assert.equal(op.status, "failed");
  assert.equal(op.error?.code, "state-rolled-back", JSON.stringify(op.error));
  await signsAt(api, bip, 0);

  // The audit chain here went another way after the old backup's entries: the newer backup's
  // entries are not appended onto it (that would break the chain), they stay in the file.
  const newer = readBackup(file("api"));
  const auditOnly = {
    manifest: { ...newer.manifest, tenants: [] },
    records: newer.records.filter((r) => r.type === "audit"),
  };
  const diverged = await restoreBackups(access(), [auditOnly]);
  assert.equal(diverged.audit?.appended, 0);
  assert.match(diverged.audit?.note ?? "", /other entries/);
  const nc2 = await controlConnection(readProfile(profileOf(stack)), "recovery-audit");
  try {
    const chain = await verifyAuditChain(jetstream(nc2));
    assert.equal(chain.brokenAt, undefined, chain.reason);
  } finally {
    await nc2.close();
  }
});

test("backup files and ledgers: anything that does not hold together is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "custody-backup-"));
  try {
    const f = join(dir, "b");
    const rec = (bucket: string, key: string, value: string) =>
      ({ type: "kv", tenant: "default", bucket, key, value: Buffer.from(value) }) as const;
    const party = (records: BackupRecord[]): Backup => {
      const keys = { default: { k1: { state: true, shares: [{ epoch: 0, session: "ab" }], records: 2 } } };
      const manifest: Manifest = {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        kind: "party",
        party: 1,
        createdAt: new Date().toISOString(),
        tenants: ["default"],
        keys,
        records: records.map((r) => ({
          ...(r.type === "kv" ? { type: "kv", tenant: r.tenant, bucket: r.bucket, key: r.key } : r),
          size: r.value.length,
          sha256: createHash("sha256").update(r.value).digest("hex"),
        })) as ManifestRecord[],
      };
      return { manifest, records };
    };
    const good = [rec("custody_shares_p1", "k1.state", "s"), rec("custody_shares_p1", "k1.0.ab", "x")];
    writeBackup(f, party(good));
    assert.deepEqual(epochsIn(readBackup(f), "k1"), [0]);
    const refusedFile = (records: BackupRecord[], pattern: RegExp) => {
      rmSync(f, { force: true });
      writeBackup(f, party(records));
      assert.throws(
        () => readBackup(f),
        (e: unknown) => e instanceof BackupFormatError && pattern.test(e.message),
      );
    };
    // A party backup may only name that party's own buckets (never the API's or another party's).
    refusedFile([...good, rec("custody_keys", "k1", "{}")], /does not belong in this backup/);
    refusedFile([...good, rec("custody_shares_p2", "k1.1.cd", "y")], /does not belong in this backup/);
    // The key summary must be the one its records give.
    refusedFile([good[0]!, rec("custody_shares_p1", "k1.1.ab", "x")], /key summary does not match/);
    refusedFile([...good, rec("custody_shares_p1", "k1.x", "x")], /neither a state nor a share/);
    // A record line missing, or one too many.
    rmSync(f, { force: true });
    writeBackup(f, party(good));
    const lines = readFileSync(f, "utf8").trimEnd().split("\n");
    writeFileSync(f, `${lines.slice(0, -1).join("\n")}\n`);
    assert.throws(() => readBackup(f), /lists 2 records, the file holds 1/);
    writeFileSync(
      f,
      `${JSON.stringify({ ...JSON.parse(lines[0]!), version: 2 })}\n${lines.slice(1).join("\n")}\n`,
    );
    assert.throws(() => readBackup(f), /version 2 is not supported/);

    // Ledgers: a torn last line is ignored (the worker drops it too), anything else unreadable refused.
    const ledger = join(dir, "ledger");
    writeFileSync(
      ledger,
      `${JSON.stringify({ t: "active", tenant: "default", key: "k1", epoch: 0 })}\n${JSON.stringify({ t: "ban", tenant: "default", key: "k1", epoch: 0, peer: 2 })}\n${JSON.stringify({ t: "active", tenant: "default", key: "k1", epoch: 3 })}\n{"t":"act`,
    );
    assert.deepEqual(readLedgerEpochs(ledger).get("default")?.get("k1"), 3);
    writeFileSync(ledger, `{"t":"act\n`);
    assert.throws(() => readLedgerEpochs(ledger), LedgerReadError);
    assert.throws(() => readLedgerEpochs(join(dir, "none")), LedgerReadError);

    // A tenant the broker does not have, or two API backups, are refused before any connection.
    const offline = (credsExist: boolean): BrokerAccess => ({
      servers: ["nats://127.0.0.1:1"],
      tls: { caFile: "", certFile: "", keyFile: "" },
      controlCreds: "",
      tenantCreds: () => (credsExist ? f : join(dir, "none")),
    });
    await assert.rejects(
      restoreBackups(offline(false), [party(good)]),
      refused(/tenant default is not enrolled/),
    );
    const apiOnly: Backup = {
      manifest: { ...party([]).manifest, kind: "api", keys: {} } as Manifest,
      records: [],
    };
    await assert.rejects(
      restoreBackups(offline(true), [apiOnly, apiOnly]),
      refused(/at most one API backup/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
