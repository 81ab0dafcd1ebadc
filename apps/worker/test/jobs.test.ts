/**
 * The job paths the attack suites do not reach: work for a party outside the key, an unknown
 * scheme or key, party lists in another order, an activation replayed at the active epoch, a
 * refreshed share with another public key under every party's confirmation, derived signing, and
 * which errors end a job for good. Real job code against a real nats-server (the bench harness).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ProtocolError } from "@custody/core";
import {
  ActivateWorkSchema,
  activationOperationId,
  create,
  ShareConfirmationSchema,
  servedBucket,
  shareBucket,
  type WorkItem,
  WorkItemSchema,
  type WorkResult,
} from "@custody/proto";
import { PermanentFailure, signAs, TransportError } from "@custody/runtime";
import { Kvm } from "@nats-io/kv";
import {
  announcesSession,
  classify,
  confirmationBytes,
  defaultInThread,
  type JobEnv,
  runJob,
} from "../src/jobs.js";
import { SCHEMES } from "../src/schemes.js";
import { Bench, type Client, ctxOf } from "./harness.js";

const PARTIES = [1, 2, 3];
let bench: Bench;
let client: Client;
let envs: Map<number, JobEnv>;
const keks = new Map<number, Uint8Array>();
/** Each party's KEK (one per party, shared by its workers). */
const kekOf = (p: number) => {
  if (!keks.has(p)) keks.set(p, randomBytes(32));
  return keks.get(p)!;
};

before(async () => {
  bench = await Bench.start(PARTIES);
  client = bench.client();
  envs = new Map();
  for (const p of PARTIES) envs.set(p, await bench.worker(p, kekOf(p)));
});
after(async () => {
  for (const e of envs?.values() ?? []) await e.nc.close();
  await bench?.stop();
});

const env = (p: number) => envs.get(p)!;
const isCode = (code: string) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};
const run = (p: number, item: WorkItem) => runJob(env(p), ctxOf(item));
const all = (item: WorkItem, parties = PARTIES) => Promise.all(parties.map((p) => run(p, item)));
const stored = (r: WorkResult) => {
  assert.equal(r.outcome.case, "shareStored");
  return r.outcome.value as {
    epoch: number;
    sessionId: Uint8Array;
    confirmation: Uint8Array;
    publicKey: Uint8Array;
  };
};

/** The activation an honest API publishes for `results`, with `edit` applied to its fields. */
function activation(
  parent: WorkItem,
  scheme: string,
  results: WorkResult[],
  edit: (v: { epoch: number; sessionId: Uint8Array }) => void = () => {},
): WorkItem {
  const first = stored(results[0]!);
  const fields = { epoch: first.epoch, sessionId: first.sessionId };
  edit(fields);
  return create(WorkItemSchema, {
    operationId: activationOperationId(parent.operationId),
    keyId: parent.keyId,
    scheme,
    tenant: parent.tenant,
    op: {
      case: "activate",
      value: create(ActivateWorkSchema, {
        ...fields,
        confirmations: results.map((r) =>
          create(ShareConfirmationSchema, { party: r.party, signature: stored(r).confirmation }),
        ),
      }),
    },
  });
}

/** A key made by DKG and activated at every party. */
async function newKey(scheme: string, parties = PARTIES) {
  const dkg = client.dkg(scheme, 2, parties);
  const results = await all(dkg);
  for (const r of await all(activation(dkg, scheme, results))) assert.equal(r.outcome.case, "activated");
  return { keyId: dkg.keyId, publicKey: stored(results[0]!).publicKey };
}

describe("job paths", { timeout: 180_000 }, () => {
  test("a party outside the key, the signer set or the activation skips the work", async () => {
    const dkg = client.dkg("ed25519", 2, [1, 2]);
    const skipped = await run(3, dkg);
    assert.equal(skipped.outcome.case, "skipped");
    const results = await all(dkg, [1, 2]);
    const act = activation(dkg, "ed25519", results);
    assert.equal((await run(3, act)).outcome.case, "skipped");
    for (const r of await all(act, [1, 2])) assert.equal(r.outcome.case, "activated");
    const sign = client.sign(dkg.keyId, "ed25519", 0, [1, 2], randomBytes(8));
    assert.equal((await run(3, sign)).outcome.case, "skipped");
    const refresh = client.refresh(dkg.keyId, "ed25519", 0, [1, 2]);
    assert.equal((await run(3, refresh)).outcome.case, "skipped");
  });

  test("an unknown scheme, and signing or activating a key this party does not hold, end the job", async () => {
    await assert.rejects(run(1, client.dkg("rsa-2048", 2, PARTIES)), isCode("unsupported-scheme"));
    await assert.rejects(
      run(1, client.sign("k_nowhere", "ed25519", 0, [1, 2], randomBytes(8))),
      isCode("key-not-active"),
    );
    const dkg = client.dkg("ed25519", 2, PARTIES);
    const results = await all(dkg);
    const unknown = create(WorkItemSchema, { ...activation(dkg, "ed25519", results), keyId: "k_nowhere" });
    await assert.rejects(run(1, unknown), isCode("share-not-found"));
  });

  test("party lists in any order: DKG and refresh run on the sorted set", async () => {
    const dkg = client.dkg("ed25519", 2, [3, 1, 2]);
    const results = await all(dkg);
    for (const r of await all(activation(dkg, "ed25519", results))) assert.equal(r.outcome.case, "activated");
    const refresh = client.refresh(dkg.keyId, "ed25519", 0, [2, 3, 1]);
    const refreshed = await all(refresh);
    for (const r of refreshed) assert.equal(stored(r).epoch, 1);
    const act = await all(activation(refresh, "ed25519", refreshed));
    for (const r of act) {
      assert.equal(r.outcome.case, "activated");
      assert.equal((r.outcome.value as { epoch: number }).epoch, 1);
    }
  });

  test("a refresh work item without a target epoch aims at the next one", async () => {
    const { keyId } = await newKey("ed25519");
    const refresh = client.refresh(keyId, "ed25519", 0, PARTIES, 0);
    for (const r of await all(refresh)) assert.equal(stored(r).epoch, 1);
  });

  test("an activation of the active epoch from another session is refused, not reported activated", async () => {
    const dkg = client.dkg("ed25519", 2, PARTIES);
    const results = await all(dkg);
    await all(activation(dkg, "ed25519", results));
    const other = activation(dkg, "ed25519", results, (v) => {
      v.sessionId = randomBytes(32);
    });
    await assert.rejects(run(1, other), isCode("share-not-found"));
    // The same session redelivered reports activated again (a crash between activation and ack).
    assert.equal((await run(2, activation(dkg, "ed25519", results))).outcome.case, "activated");
  });

  test("a refreshed share with another public key never activates, even confirmed by every party", async () => {
    const { keyId } = await newKey("ed25519");
    // Party 1 holds, at epoch 1, a share of an unrelated key (as a broken refresh would leave it),
    // and every party's identity signed the confirmation of exactly that share.
    const foreign = client.dkg("ed25519", 2, PARTIES);
    const foreignResults = await all(foreign);
    const share = await env(1).store.getShare(
      { tenant: env(1).tenant, keyId: foreign.keyId, scheme: "ed25519" },
      { epoch: 0, session: Buffer.from(stored(foreignResults[0]!).sessionId).toString("hex") },
    );
    assert.ok(share);
    const ref = { tenant: env(1).tenant, keyId, scheme: "ed25519" };
    const slot = { epoch: 1, session: "22".repeat(32) };
    const op = "op_broken_refresh";
    await env(1).store.putShare(ref, slot, share.share, PARTIES, op);
    const info = SCHEMES.get("ed25519")!.info(SCHEMES.get("ed25519")!.decodeShare(share.share));
    const statement = confirmationBytes(ref, slot, info, PARTIES);
    const item = create(WorkItemSchema, {
      operationId: activationOperationId(op),
      keyId,
      scheme: "ed25519",
      tenant: env(1).tenant,
      op: {
        case: "activate",
        value: create(ActivateWorkSchema, {
          epoch: 1,
          sessionId: Buffer.from(slot.session, "hex"),
          confirmations: PARTIES.map((p) =>
            create(ShareConfirmationSchema, {
              party: p,
              signature: signAs(bench.identities.get(p)!, statement),
            }),
          ),
        }),
      },
    });
    await assert.rejects(run(1, item), isCode("public-key-changed"));
  });

  test("a derived signature is made with the derived key, not the root", async () => {
    const { keyId, publicKey } = await newKey("bip340");
    const message = randomBytes(32);
    const [root] = await all(client.sign(keyId, "bip340", 0, [1, 2], message), [1, 2]);
    const derivedItem = client.sign(keyId, "bip340", 0, [1, 2], message, "m/0/7");
    const derived = await all(derivedItem, [1, 2]);
    const pk = (r: WorkResult) => {
      assert.equal(r.outcome.case, "signature");
      return Buffer.from((r.outcome.value as { publicKey: Uint8Array }).publicKey).toString("hex");
    };
    assert.notEqual(pk(derived[0]!), pk(root!));
    assert.equal(pk(derived[0]!), pk(derived[1]!));
    assert.ok(publicKey.length > 0);
  });

  test("the broker deleting the active share record ends signing with share-not-found", async () => {
    const dkg = client.dkg("ed25519", 2, PARTIES);
    const results = await all(dkg);
    await all(activation(dkg, "ed25519", results));
    const session = Buffer.from(stored(results[0]!).sessionId).toString("hex");
    const kv = await new Kvm(bench.broker).open(shareBucket(1));
    await kv.purge(`${dkg.keyId}.0.${session}`);
    await assert.rejects(
      run(1, client.sign(dkg.keyId, "ed25519", 0, [1, 2], randomBytes(8))),
      isCode("share-not-found"),
    );
  });

  test("a bip340 share's confirmation carries its chain code and derivation key", async () => {
    const dkg = client.dkg("bip340", 2, PARTIES);
    const results = await all(dkg);
    for (const r of results) {
      const v = r.outcome.value as {
        chainCode: Uint8Array;
        derivationKey: Uint8Array;
        publicKey: Uint8Array;
      };
      assert.equal(v.chainCode.length, 32);
      assert.equal(v.derivationKey.length, 33);
      assert.deepEqual(v.chainCode, (results[0]!.outcome.value as typeof v).chainCode);
    }
  });

  test("a replayed DKG at another worker of the party (the broker wiped the served ledger) is refused create-only", async () => {
    const dkg = client.dkg("ed25519", 2, PARTIES);
    await all(activation(dkg, "ed25519", await all(dkg)));
    const served = await new Kvm(bench.broker).open(servedBucket(1));
    for await (const k of await served.keys()) await served.purge(k);
    // A fresh worker of party 1: its own ledger has never seen this key.
    const fresh = await bench.worker(1, kekOf(1));
    try {
      await assert.rejects(runJob(fresh, ctxOf(dkg)), isCode("key-exists"));
    } finally {
      await fresh.nc.close();
    }
  });

  test("an activation this worker cannot record in its ledger fails for good, and says why", async () => {
    const dkg = client.dkg("ed25519", 2, PARTIES);
    const results = await all(dkg);
    const broken = await bench.worker(3, kekOf(3));
    try {
      rmSync(broken.ledgerFile, { force: true });
      mkdirSync(broken.ledgerFile);
      await assert.rejects(
        runJob(broken, ctxOf(activation(dkg, "ed25519", results))),
        isCode("party-state-unwritable"),
      );
    } finally {
      await broken.nc.close();
    }
  });

  test("a ban holds for its key and epoch only: another key signs with the peer, and the key signs again after a refresh", async () => {
    const a = await newKey("ed25519");
    const b = await newKey("ed25519");
    const ref = (keyId: string) => ({ tenant: env(1).tenant, keyId, scheme: "ed25519" });
    await env(1).store.ban(ref(a.keyId), { epoch: 0, peer: 2 });
    await assert.rejects(
      run(1, client.sign(a.keyId, "ed25519", 0, [1, 2], randomBytes(8))),
      isCode("pair-locked"),
    );
    const other = await all(client.sign(b.keyId, "ed25519", 0, [1, 2], randomBytes(8)), [1, 2]);
    for (const r of other) assert.equal(r.outcome.case, "signature");
    const refresh = client.refresh(a.keyId, "ed25519", 0, PARTIES);
    await all(activation(refresh, "ed25519", await all(refresh)));
    const after = await all(client.sign(a.keyId, "ed25519", 1, [1, 2], randomBytes(8)), [1, 2]);
    for (const r of after) assert.equal(r.outcome.case, "signature");
  });

  test("a job whose delivery is aborted ends with the abort, not a timeout", async () => {
    const { keyId } = await newKey("ed25519");
    // Party 2 never runs: the signing session waits for it until the delivery is aborted.
    const stop = new AbortController();
    const pending = runJob(
      env(1),
      ctxOf(client.sign(keyId, "ed25519", 0, [1, 2], randomBytes(8)), stop.signal),
    );
    setTimeout(() => stop.abort(new Error("worker stopping")), 300);
    await assert.rejects(pending, (e: unknown) => e instanceof TransportError && e.code === "aborted");
    const already = new AbortController();
    already.abort(new Error("worker stopping"));
    await assert.rejects(
      runJob(env(1), ctxOf(client.sign(keyId, "ed25519", 0, [1, 2], randomBytes(8)), already.signal)),
      (e: unknown) => e instanceof TransportError && e.code === "aborted",
    );
  });

  test("which failures end a job for good", () => {
    const security = new ProtocolError("security", "check failed", [2]);
    const ended = classify(security);
    assert.ok(ended instanceof PermanentFailure);
    assert.equal(ended.code, "protocol-security");
    assert.deepEqual([...ended.culprits], [2]);
    assert.equal(classify(new ProtocolError("timeout", "slow", [])), undefined);
    const sealed = new Error("cannot open");
    sealed.name = "SealError";
    assert.equal(classify(sealed)?.code, "share-unreadable");
    assert.equal(classify(new Error("network")), undefined);
    assert.equal(classify("not an error"), undefined);
  });

  test("which sessions run in a worker thread: batches, and ECDSA key generation and refresh", () => {
    const base = { self: 1, signers: [1, 2], share: new Uint8Array() };
    const message = new Uint8Array(32);
    const inThread = (scheme: string) => [
      defaultInThread({ op: "sign", scheme, ...base, message }),
      defaultInThread({ op: "sign-batch", scheme, ...base, items: [{ message }] }),
      defaultInThread({ op: "keygen", scheme, self: 1, parties: [1, 2, 3], threshold: 2 }),
      defaultInThread({ op: "refresh", scheme, self: 1, share: new Uint8Array() }),
    ];
    assert.deepEqual(inThread("ed25519"), [false, true, false, false]);
    assert.deepEqual(inThread("bip340"), [false, true, false, false]);
    assert.deepEqual(inThread("ecdsa-secp256k1"), [false, true, true, true]);
  });

  test("which session attempts are announced: every one but a single signature's first", () => {
    const base = { scheme: "ed25519", self: 1, signers: [1, 2], share: new Uint8Array() };
    const single = { op: "sign" as const, ...base, message: new Uint8Array(32) };
    const batch = { op: "sign-batch" as const, ...base, items: [{ message: new Uint8Array(32) }] };
    const keygen = { op: "keygen" as const, scheme: "ed25519", self: 1, parties: [1, 2, 3], threshold: 2 };
    const refresh = { op: "refresh" as const, scheme: "ed25519", self: 1, share: new Uint8Array() };
    assert.deepEqual(
      [single, batch, keygen, refresh].map((spec) => [announcesSession(spec, 1), announcesSession(spec, 2)]),
      [
        [false, true],
        [true, true],
        [true, true],
        [true, true],
      ],
    );
  });
});
