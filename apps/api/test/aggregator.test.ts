/**
 * The result aggregator against a real nats-server: party results as the parties publish them,
 * including the ones a malicious party or a replaying broker would send (repeats, disagreeing
 * sessions, a changed public key, a forged signature). Each test starts from what an honest run
 * does and checks one rule of the fold into operation and key records.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign as signEd25519 } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import {
  ActivatedSchema,
  activationOperationId,
  create,
  FailureSchema,
  fromBinary,
  OperationEventSchema,
  operationEventSubject,
  ProgressSchema,
  progressSubject,
  REQUEST_STREAM,
  requestSubject,
  resultSubject,
  ShareStoredSchema,
  SignatureResultSchema,
  SkippedSchema,
  toBinary,
  WorkItemSchema,
  type WorkResult,
  WorkResultSchema,
} from "@custody/proto";
import { provisionControl, provisionTenant } from "@custody/runtime";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { onItsSubject, ResultAggregator, UnusableResultError } from "../src/domain/aggregator.js";
import type { KeyRecord, OperationRecord } from "../src/domain/records.js";
import { Repository } from "../src/domain/repository.js";

const PARTIES = [1, 2, 3];
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
let server: NatsServer;
let nc: NatsConnection;
let dir: string;
let repo: Repository;
let agg: ResultAggregator;
const terminal: OperationRecord[] = [];
const rejected: { op: string; party: number; code: string }[] = [];
let seq = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-aggregator-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  await provisionTenant(nc, { parties: PARTIES });
  await provisionControl(nc);
  repo = await Repository.open(nc);
  agg = new ResultAggregator(nc, jetstream(nc), repo, pino({ level: "silent" }));
  agg.onTerminal = (op) => terminal.push(op);
  agg.onRejectedResult = (op, party, code) => rejected.push({ op: op.id, party, code });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const now = () => new Date().toISOString();
const ed = generateKeyPairSync("ed25519");
const ED_PUBLIC = hex(ed.publicKey.export({ format: "der", type: "spki" }).subarray(12));

async function newKey(extra: Partial<KeyRecord> = {}): Promise<KeyRecord> {
  const k: KeyRecord = {
    id: `k_${++seq}`,
    tenant: "acme",
    scheme: "ed25519",
    threshold: 2,
    parties: PARTIES,
    status: "creating",
    epoch: 0,
    operationId: `op_dkg_${seq}`,
    createdAt: now(),
    updatedAt: now(),
    ...extra,
  };
  await repo.createKey(k);
  return k;
}

async function newOp(key: KeyRecord, extra: Partial<OperationRecord>): Promise<OperationRecord> {
  const op: OperationRecord = {
    id: `op_${++seq}`,
    type: "dkg",
    status: "pending",
    keyId: key.id,
    tenant: "acme",
    participants: PARTIES,
    reports: {},
    createdAt: now(),
    updatedAt: now(),
    ...extra,
  };
  await repo.createOperation(op);
  return op;
}

type Outcome = WorkResult["outcome"];
const result = (operationId: string, party: number, outcome: Outcome) =>
  create(WorkResultSchema, { operationId, party, outcome });
const storedOutcome = (v: {
  epoch?: number;
  session?: string;
  publicKey?: string;
  party: number;
}): Outcome => ({
  case: "shareStored",
  value: create(ShareStoredSchema, {
    epoch: v.epoch ?? 0,
    publicKey: bytes(v.publicKey ?? ED_PUBLIC),
    chainCode: bytes("cc".repeat(32)),
    derivationKey: new Uint8Array(),
    sessionId: bytes(v.session ?? "5e".repeat(32)),
    confirmation: bytes(`${v.party}0`.repeat(32)),
  }),
});
const activatedOutcome = (epoch: number): Outcome => ({
  case: "activated",
  value: create(ActivatedSchema, { epoch }),
});
const progressOutcome = (attempt: number, phase = "session"): Outcome => ({
  case: "progress",
  value: create(ProgressSchema, { phase, attempt }),
});
const op = async (id: string) => (await repo.getOperation(id))!;
const key = async (id: string) => (await repo.getKey(id))!;

/** The activation work item the aggregator published for `operationId`, if any. */
async function publishedActivation(operationId: string) {
  const jsm = await jetstreamManager(nc);
  const subject = requestSubject("activate", activationOperationId(operationId));
  const m = await jsm.streams.getMessage(REQUEST_STREAM, { last_by_subj: subject }).catch(() => null);
  return m ? fromBinary(WorkItemSchema, m.data) : undefined;
}

describe("result aggregator", { timeout: 120_000 }, () => {
  test("a DKG: activation only once every party stored the same share, then success once all activated", async () => {
    const k = await newKey();
    const dkg = await newOp(k, {});
    const events: string[] = [];
    const sub = nc.subscribe(operationEventSubject(dkg.id), {
      callback: (_e, m) => {
        events.push(fromBinary(OperationEventSchema, m.data).status);
      },
    });
    await agg.apply(result(dkg.id, 1, storedOutcome({ party: 1 })));
    // A repeated result of the same party counts once.
    await agg.apply(result(dkg.id, 1, storedOutcome({ party: 1 })));
    await agg.apply(result(dkg.id, 2, storedOutcome({ party: 2 })));
    assert.equal(await publishedActivation(dkg.id), undefined, "no activation before every party stored");
    assert.equal((await key(k.id)).status, "creating");
    await agg.apply(result(dkg.id, 3, storedOutcome({ party: 3 })));
    const act = await publishedActivation(dkg.id);
    assert.ok(act && act.op.case === "activate");
    assert.equal(act.keyId, k.id);
    assert.equal(act.op.value.epoch, 0);
    assert.equal(hex(act.op.value.sessionId), "5e".repeat(32));
    assert.deepEqual(
      act.op.value.confirmations.map((c) => [c.party, hex(c.signature)]).sort(),
      PARTIES.map((p) => [p, `${p}0`.repeat(32)]),
    );
    const active = await key(k.id);
    assert.equal(active.status, "active");
    assert.equal(active.publicKey, ED_PUBLIC);
    assert.equal(active.chainCode, "cc".repeat(32));
    assert.equal(active.derivationKey, undefined);
    assert.equal((await op(dkg.id)).status, "pending", "pending until every party activated");
    // Activation results count under the DKG; a repeat counts once.
    const actId = activationOperationId(dkg.id);
    await agg.apply(result(actId, 1, activatedOutcome(0)));
    await agg.apply(result(actId, 1, activatedOutcome(0)));
    await agg.apply(result(actId, 2, activatedOutcome(0)));
    assert.equal((await op(dkg.id)).status, "pending");
    await agg.apply(result(actId, 3, activatedOutcome(0)));
    const done = await op(dkg.id);
    assert.equal(done.status, "succeeded");
    assert.deepEqual(done.reports, { 1: "activated", 2: "activated", 3: "activated" });
    assert.equal(terminal.filter((t) => t.id === dkg.id).length, 1);
    // After the end nothing changes it.
    await agg.apply(result(dkg.id, 2, { case: "failure", value: create(FailureSchema, { code: "late" }) }));
    assert.equal((await op(dkg.id)).status, "succeeded");
    await nc.flush();
    sub.unsubscribe();
    assert.deepEqual(events, ["succeeded"]);
  });

  test("parties that disagree on the session or the key fail the DKG, and no activation goes out", async () => {
    for (const differ of [{ session: "77".repeat(32) }, { publicKey: "ab".repeat(32) }, { epoch: 1 }]) {
      const k = await newKey();
      const dkg = await newOp(k, {});
      await agg.apply(result(dkg.id, 1, storedOutcome({ party: 1 })));
      await agg.apply(result(dkg.id, 2, storedOutcome({ party: 2 })));
      await agg.apply(result(dkg.id, 3, storedOutcome({ party: 3, ...differ })));
      const failed = await op(dkg.id);
      assert.equal(failed.status, "failed");
      assert.equal(failed.error?.code, "inconsistent-results");
      assert.equal((await key(k.id)).status, "failed");
      assert.equal(await publishedActivation(dkg.id), undefined);
    }
  });

  test("a refresh that changes the public key fails; one that keeps it moves the key to its epoch", async () => {
    const k = await newKey({ status: "active", publicKey: ED_PUBLIC, epoch: 2 });
    const bad = await newOp(k, { type: "refresh", targetEpoch: 3 });
    await repo.updateKey(k.id, (cur) => ({ ...cur, refreshing: bad.id }));
    for (const p of PARTIES)
      await agg.apply(result(bad.id, p, storedOutcome({ party: p, epoch: 3, publicKey: "cd".repeat(32) })));
    assert.equal((await op(bad.id)).error?.code, "public-key-changed");
    assert.equal((await key(k.id)).refreshing, undefined, "a failed refresh releases the key");
    assert.equal((await key(k.id)).epoch, 2);
    assert.equal(await publishedActivation(bad.id), undefined);

    const good = await newOp(k, { type: "refresh", targetEpoch: 5 });
    await repo.updateKey(k.id, (cur) => ({ ...cur, refreshing: good.id }));
    for (const p of PARTIES) await agg.apply(result(good.id, p, storedOutcome({ party: p, epoch: 5 })));
    const moved = await key(k.id);
    assert.equal(moved.epoch, 5);
    assert.equal(moved.refreshing, undefined);
    assert.equal(moved.status, "active");
    const act = await publishedActivation(good.id);
    assert.ok(act?.op.case === "activate");
    assert.equal(act.op.value.epoch, 5);

    // An older refresh completing late never moves the key back.
    const late = await newOp(k, { type: "refresh", targetEpoch: 4 });
    for (const p of PARTIES) await agg.apply(result(late.id, p, storedOutcome({ party: p, epoch: 4 })));
    assert.equal((await key(k.id)).epoch, 5);
  });

  test("a party's failure fails the operation with its typed reason; a skip does not", async () => {
    const k = await newKey();
    const dkg = await newOp(k, {});
    await agg.apply(result(dkg.id, 3, { case: "skipped", value: create(SkippedSchema, { reason: "x" }) }));
    assert.equal((await op(dkg.id)).status, "pending");
    assert.equal((await op(dkg.id)).reports[3], "skipped");
    const failure = create(FailureSchema, { code: "protocol-security", message: "caught", culprits: [2] });
    await agg.apply(result(dkg.id, 1, { case: "failure", value: failure }));
    const failed = await op(dkg.id);
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.error, { code: "protocol-security", message: "caught", culprits: [2] });
    assert.equal(failed.reports[1], "failed");
    assert.equal((await key(k.id)).status, "failed");
  });

  test("a sign's non-signer skip is not recorded (its parties are its signers)", async () => {
    const k = await newKey({ status: "active", publicKey: ED_PUBLIC, epoch: 0 });
    const s = await newOp(k, { type: "sign", participants: [1, 2], request: { message: "00", epoch: 0 } });
    const before = await op(s.id);
    await agg.apply(result(s.id, 3, { case: "skipped", value: create(SkippedSchema, { reason: "x" }) }));
    assert.deepEqual(await (await Repository.open(nc)).getOperation(s.id), before);
  });

  test("a skip arriving after the end changes nothing, even when this instance last saw the operation pending", async () => {
    const k = await newKey();
    const dkg = await newOp(k, {});
    // This instance sees the operation pending (a progress report), then another instance ends it.
    await agg.apply(result(dkg.id, 1, progressOutcome(1)));
    const elsewhere = await Repository.open(nc);
    const other = new ResultAggregator(nc, jetstream(nc), elsewhere, pino({ level: "silent" }));
    const failure = create(FailureSchema, { code: "protocol-timeout", message: "slow", culprits: [] });
    await other.apply(result(dkg.id, 2, { case: "failure", value: failure }));
    const ended = await (await Repository.open(nc)).getOperation(dkg.id);
    assert.equal(ended?.status, "failed");
    await agg.apply(result(dkg.id, 3, { case: "skipped", value: create(SkippedSchema, { reason: "x" }) }));
    assert.deepEqual(await (await Repository.open(nc)).getOperation(dkg.id), ended);
  });

  test("a signature the API's own check refuses is audited and fails only that party's report", async () => {
    const k = await newKey({ status: "active", publicKey: ED_PUBLIC, epoch: 1 });
    const message = "68656c6c6f";
    const s = await newOp(k, { type: "sign", participants: [1, 2], request: { message, epoch: 1 } });
    const good = signEd25519(null, bytes(message), ed.privateKey);
    const forged = Uint8Array.from(good);
    forged[0]! ^= 1;
    const sigOutcome = (sig: Uint8Array, epoch = 1): Outcome => ({
      case: "signature",
      value: create(SignatureResultSchema, { signature: sig, publicKey: bytes(ED_PUBLIC), epoch }),
    });
    await agg.apply(result(s.id, 1, sigOutcome(forged)));
    await agg.apply(result(s.id, 3, sigOutcome(good)));
    const pending = await op(s.id);
    assert.equal(pending.status, "pending");
    assert.equal(pending.reports[1], "rejected:bad-result-signature");
    assert.equal(pending.reports[3], "rejected:bad-result-signer");
    assert.deepEqual(
      rejected.filter((r) => r.op === s.id).map((r) => [r.party, r.code]),
      [
        [1, "bad-result-signature"],
        [3, "bad-result-signer"],
      ],
    );
    await agg.apply(result(s.id, 2, sigOutcome(good)));
    const done = await op(s.id);
    assert.equal(done.status, "succeeded");
    assert.equal(done.reports[2], "signed");
    assert.equal(done.signature?.signature, hex(good));
    assert.equal(done.signature?.publicKey, ED_PUBLIC);
    assert.equal(done.signature?.keyId, k.id);
    assert.equal(done.signature?.epoch, 1);
    assert.equal(done.signature?.der, undefined);
  });

  test("results of unknown operations are unusable (dropped); fail() ends only pending operations", async () => {
    await assert.rejects(
      agg.apply(result("op_unknown", 1, activatedOutcome(0))),
      (e: unknown) => e instanceof UnusableResultError && /unknown operation/.test(e.message),
    );
    const k = await newKey();
    const dkg = await newOp(k, {});
    await agg.fail(dkg.id, { code: "dead-letter", message: "gave up", culprits: [] });
    assert.equal((await op(dkg.id)).error?.code, "dead-letter");
    assert.equal((await key(k.id)).status, "failed");
    await agg.fail(dkg.id, { code: "other", message: "again", culprits: [] });
    assert.equal((await op(dkg.id)).error?.code, "dead-letter");
    // An activation's dead letter fails its DKG.
    const k2 = await newKey();
    const dkg2 = await newOp(k2, {});
    await agg.fail(activationOperationId(dkg2.id), { code: "dead-letter", message: "gave up", culprits: [] });
    assert.equal((await op(dkg2.id)).status, "failed");
  });

  test("progress: queued, session attempts (never backwards), k of n stored, activating, then the end; never after it", async () => {
    const k = await newKey();
    const dkg = await newOp(k, {});
    assert.equal(
      (await op(dkg.id)).progress,
      undefined,
      "a new record has no progress yet (reads as queued)",
    );
    await agg.apply(result(dkg.id, 1, progressOutcome(1)));
    assert.equal((await op(dkg.id)).progress?.phase, "session");
    assert.equal((await op(dkg.id)).progress?.attempt, 1);
    await agg.apply(result(dkg.id, 2, progressOutcome(2)));
    assert.equal((await op(dkg.id)).progress?.attempt, 2);
    // An older attempt, a repeat, a non-party and an unknown phase change nothing.
    const before = await op(dkg.id);
    await agg.apply(result(dkg.id, 3, progressOutcome(1)));
    await agg.apply(result(dkg.id, 2, progressOutcome(2)));
    await agg.apply(result(dkg.id, 9, progressOutcome(7)));
    await agg.apply(result(dkg.id, 1, progressOutcome(5, "stored")));
    assert.deepEqual(await op(dkg.id), before);
    assert.equal(before.status, "pending");
    assert.deepEqual(before.reports, {}, "progress is no party report");

    await agg.apply(result(dkg.id, 1, storedOutcome({ party: 1 })));
    let p = (await op(dkg.id)).progress;
    assert.deepEqual([p?.phase, p?.stored, p?.of, p?.attempt], ["stored", 1, 3, 2]);
    // A later session attempt raises the attempt but never moves the phase back.
    await agg.apply(result(dkg.id, 3, progressOutcome(3)));
    p = (await op(dkg.id)).progress;
    assert.deepEqual([p?.phase, p?.stored, p?.attempt], ["stored", 1, 3]);
    await agg.apply(result(dkg.id, 2, storedOutcome({ party: 2 })));
    assert.equal((await op(dkg.id)).progress?.stored, 2);
    await agg.apply(result(dkg.id, 3, storedOutcome({ party: 3 })));
    p = (await op(dkg.id)).progress;
    assert.deepEqual([p?.phase, p?.stored, p?.of], ["activating", 3, 3]);
    const actId = activationOperationId(dkg.id);
    for (const party of PARTIES) await agg.apply(result(actId, party, activatedOutcome(0)));
    const done = await op(dkg.id);
    assert.equal(done.status, "succeeded");
    assert.deepEqual([done.progress?.phase, done.progress?.attempt], ["succeeded", 3]);
    await agg.apply(result(dkg.id, 1, progressOutcome(9)));
    assert.deepEqual(await op(dkg.id), done, "an ended operation never moves");

    // A sign: session, then the terminal phase; a failure ends in `failed`.
    const signKey = await newKey({ status: "active", publicKey: ED_PUBLIC, epoch: 0 });
    const s = await newOp(signKey, {
      type: "sign",
      participants: [1, 2],
      request: { message: "00", epoch: 0 },
    });
    await agg.apply(result(s.id, 2, progressOutcome(1)));
    assert.equal((await op(s.id)).progress?.phase, "session");
    await agg.apply(result(s.id, 1, { case: "failure", value: create(FailureSchema, { code: "x" }) }));
    assert.deepEqual([(await op(s.id)).progress?.phase, (await op(s.id)).progress?.attempt], ["failed", 1]);
  });

  test("a progress report counts only on its party's progress subject, and nothing else counts there", () => {
    const progress = result("op_x", 2, progressOutcome(1));
    const stored = result("op_x", 2, storedOutcome({ party: 2 }));
    assert.equal(onItsSubject(progress, progressSubject("op_x", 2)), true);
    assert.equal(onItsSubject(progress, progressSubject("op_x", 3)), false, "another party's subject");
    assert.equal(onItsSubject(progress, resultSubject("op_x", 2)), false, "the final-result subject");
    assert.equal(onItsSubject(stored, resultSubject("op_x", 2)), true);
    assert.equal(onItsSubject(stored, progressSubject("op_x", 2)), false, "a result disguised as progress");
  });
  test("the consumer applies a result only from its own subject: no result as progress, no progress as a result", async () => {
    const k = await newKey();
    const dkg = await newOp(k, {});
    const js = jetstream(nc);
    const bin = (r: WorkResult) => toBinary(WorkResultSchema, r);
    await agg.start();
    try {
      // Party 1's share report on its progress subject, and a progress report on party 2's result
      // subject: both dropped. Party 3's share report on its result subject: applied.
      await js.publish(progressSubject(dkg.id, 1), bin(result(dkg.id, 1, storedOutcome({ party: 1 }))));
      await js.publish(resultSubject(dkg.id, 2), bin(result(dkg.id, 2, progressOutcome(7))));
      await js.publish(resultSubject(dkg.id, 3), bin(result(dkg.id, 3, storedOutcome({ party: 3 }))));
      const deadline = Date.now() + 20_000;
      while ((await op(dkg.id)).reports[3] !== "stored" && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const cur = await op(dkg.id);
      assert.equal(cur.reports[3], "stored");
      assert.equal(cur.reports[1], undefined, "a result on a progress subject is not applied");
      assert.notEqual(cur.progress?.attempt, 7, "progress on a result subject is not applied");
      assert.ok(Date.parse(cur.updatedAt) >= Date.parse(cur.createdAt));
    } finally {
      await agg.stop();
    }
  });
  test("results for operations that exist nowhere are dropped at once, so they hold up no other result", async () => {
    // Results reach the API instances one at a time: a result retried for its 30 deliveries would
    // hold up every other one for half a minute (a party could stall the tenant this way).
    const k = await newKey();
    const dkg = await newOp(k, {});
    const js = jetstream(nc);
    const bin = (r: WorkResult) => toBinary(WorkResultSchema, r);
    // A fresh consumer loop (the shared one was stopped by the test before).
    const loop = new ResultAggregator(nc, js, repo, pino({ level: "silent" }));
    await loop.start();
    try {
      for (const party of [1, 2, 3])
        await js.publish(
          resultSubject(`op_nowhere_${party}`, party),
          bin(result(`op_nowhere_${party}`, party, storedOutcome({ party }))),
        );
      await js.publish(resultSubject(dkg.id, 1), bin(result(dkg.id, 1, storedOutcome({ party: 1 }))));
      const deadline = Date.now() + 8_000;
      while ((await op(dkg.id)).reports[1] !== "stored" && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal((await op(dkg.id)).reports[1], "stored", "the real result was applied within 8 s");
    } finally {
      await loop.stop();
    }
  });
});
