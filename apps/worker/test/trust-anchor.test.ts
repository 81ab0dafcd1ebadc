/**
 * What a compromised API (or a broker publishing work items) can no longer do to a key: replay a
 * create-key request onto an existing key, re-sign a served request, sign or refresh at an epoch
 * that is not the active one, activate shares not every party confirmed, or point a request at
 * another operation, key, path or tenant. Every party runs here as the real job code against a
 * real nats-server; work items are built as the API builds them, then edited as an attacker would.
 */
import assert from "node:assert/strict";
import { randomBytes, verify } from "node:crypto";
import { after, before, describe, test } from "node:test";
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
import { PermanentFailure } from "@custody/runtime";
import { Kvm } from "@nats-io/kv";
import { EpochNotActiveYet, type JobEnv, runJob } from "../src/jobs.js";
import { Bench, type Client, ctxOf } from "./harness.js";

const SCHEME = "ed25519";
const PARTIES = [1, 2, 3];
let bench: Bench;
let client: Client;
let envs: Map<number, JobEnv>;

before(async () => {
  bench = await Bench.start(PARTIES);
  client = bench.client();
  envs = new Map();
  for (const p of PARTIES) envs.set(p, await bench.worker(p, randomBytes(32)));
});
after(async () => {
  for (const e of envs?.values() ?? []) await e.nc.close();
  await bench?.stop();
});

const isCode = (code: string, why?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, code, e.message);
  if (why) assert.match(e.message, why);
  return true;
};
const all = (item: WorkItem, parties = PARTIES) =>
  Promise.all(parties.map((p) => runJob(envs.get(p)!, ctxOf(item))));

/** The activation an honest API publishes once every party stored its share. */
function activation(dkgOrRefresh: WorkItem, stored: WorkResult[]): WorkItem {
  const values = stored.map((r) => {
    assert.equal(r.outcome.case, "shareStored");
    return {
      party: r.party,
      v: r.outcome.value as { epoch: number; sessionId: Uint8Array; confirmation: Uint8Array },
    };
  });
  return create(WorkItemSchema, {
    operationId: activationOperationId(dkgOrRefresh.operationId),
    keyId: dkgOrRefresh.keyId,
    scheme: SCHEME,
    tenant: dkgOrRefresh.tenant,
    op: {
      case: "activate",
      value: create(ActivateWorkSchema, {
        epoch: values[0]!.v.epoch,
        sessionId: values[0]!.v.sessionId,
        confirmations: values.map((x) =>
          create(ShareConfirmationSchema, { party: x.party, signature: x.v.confirmation }),
        ),
      }),
    },
  });
}

/** What a hostile broker can do to every party's served-request ledger: wipe it. */
async function wipeServed() {
  for (const p of PARTIES) {
    await (await new Kvm(bench.broker).open(servedBucket(p))).destroy();
    await new Kvm(bench.broker).create(servedBucket(p), { history: 1 });
  }
}

/** DKG plus activation; returns the key id and its public key. */
async function newKey(): Promise<{ keyId: string; publicKey: Uint8Array; dkg: WorkItem }> {
  const dkg = client.dkg(SCHEME, 2, PARTIES);
  const stored = await all(dkg);
  const act = await all(activation(dkg, stored));
  for (const r of act) assert.equal(r.outcome.case, "activated");
  const v = stored[0]!.outcome.value as { publicKey: Uint8Array };
  return { keyId: dkg.keyId, publicKey: v.publicKey, dkg };
}

const signature = (r: WorkResult) => {
  assert.equal(r.outcome.case, "signature");
  return r.outcome.value as { signature: Uint8Array; publicKey: Uint8Array; epoch: number };
};
const ed25519Verifies = (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array) =>
  verify(
    null,
    msg,
    { key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), pk]), format: "der", type: "spki" },
    sig,
  );

describe("parties are the trust anchor", { timeout: 300_000 }, () => {
  test("a DKG becomes usable only after every party's confirmation, and a partial set is refused", async () => {
    const dkg = client.dkg(SCHEME, 2, PARTIES);
    const stored = await all(dkg);
    // Before activation no party signs with it (it retries until the activation arrives).
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(client.sign(dkg.keyId, SCHEME, 0, [1, 2], randomBytes(8)))),
      (e: unknown) => e instanceof EpochNotActiveYet,
    );
    // Two of three confirmations, or one forged by another party's key, do not activate.
    const partial = activation(dkg, stored.slice(0, 2));
    await assert.rejects(runJob(envs.get(1)!, ctxOf(partial)), isCode("activation-unconfirmed"));
    const forged = activation(dkg, [stored[0]!, stored[1]!, { ...stored[2]!, party: 3 }]);
    const op = forged.op.value as { confirmations: { party: number; signature: Uint8Array }[] };
    op.confirmations[2]!.signature = op.confirmations[0]!.signature;
    await assert.rejects(runJob(envs.get(1)!, ctxOf(forged)), isCode("activation-unconfirmed"));
    // All three: every party activates; a redelivered activation reports the same again.
    for (const r of await all(activation(dkg, stored))) assert.equal(r.outcome.case, "activated");
    assert.equal((await runJob(envs.get(2)!, ctxOf(activation(dkg, stored)))).outcome.case, "activated");
  });

  test("a replayed create-key request never replaces the key (served ledger, derived ids, create-only)", async () => {
    const { keyId, publicKey, dkg } = await newKey();
    // 1. The same work item again: the request was served.
    await assert.rejects(runJob(envs.get(1)!, ctxOf(dkg)), isCode("replayed-request"));
    // 2. The same request under another operation id, or aimed at another key id: refused.
    const otherOp = create(WorkItemSchema, { ...dkg, operationId: "op_attacker" });
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(otherOp)),
      isCode("unauthorized-request", /operation id/),
    );
    const fresh = client.dkg(SCHEME, 2, PARTIES);
    const onto = create(WorkItemSchema, { ...fresh, keyId });
    await assert.rejects(runJob(envs.get(1)!, ctxOf(onto)), isCode("unauthorized-request", /key id/));
    // 3. The broker also wipes the served ledgers: the key id is still taken (create-only).
    await wipeServed();
    await assert.rejects(runJob(envs.get(2)!, ctxOf(dkg)), isCode("key-exists"));
    // The key still signs under its public key.
    const msg = randomBytes(16);
    const sig = signature((await all(client.sign(keyId, SCHEME, 0, [1, 2], msg), [1, 2]))[0]!);
    assert.deepEqual(sig.publicKey, publicKey);
    assert.ok(ed25519Verifies(publicKey, msg, sig.signature));
  });

  test("a sign request is served once; a replay under another operation is refused", async () => {
    const { keyId } = await newKey();
    const item = client.sign(keyId, SCHEME, 0, [1, 3], randomBytes(8));
    await all(item, [1, 3]);
    await assert.rejects(runJob(envs.get(1)!, ctxOf(item)), isCode("replayed-request"));
    const again = create(WorkItemSchema, { ...item, operationId: "op_resign" });
    await assert.rejects(runJob(envs.get(3)!, ctxOf(again)), isCode("unauthorized-request", /operation id/));
  });

  test("a party outside the signer set serves the request at once: the same request naming it a signer is a replay", async () => {
    const { keyId } = await newKey();
    const item = client.sign(keyId, SCHEME, 0, [1, 3], randomBytes(8));
    assert.equal((await runJob(envs.get(2)!, ctxOf(item))).outcome.case, "skipped");
    // The broker (or the API) rewrites the signer set of the same request to include party 2.
    const work = item.op.value as { signers: number[] };
    const rewritten = create(WorkItemSchema, {
      ...item,
      op: { case: "sign", value: { ...work, signers: [1, 2] } as never },
    });
    await assert.rejects(
      runJob(envs.get(2)!, ctxOf(rewritten)),
      isCode("replayed-request", /already served/),
    );
    // The original item redelivered: still only noted.
    assert.equal((await runJob(envs.get(2)!, ctxOf(item))).outcome.case, "skipped");
  });

  test("after a refresh activates, the old epoch is purged at every party and never signs or refreshes again", async () => {
    const { keyId, publicKey } = await newKey();
    // A refresh into epoch 1 stores its shares but is never activated (it failed elsewhere).
    const first = client.refresh(keyId, SCHEME, 0, PARTIES, 1);
    const firstStored = await all(first);
    // A second refresh aiming at the same epoch is refused by every party: one operation per epoch,
    // so two refreshes can never both collect every confirmation and be activated in different
    // orders at different parties (which would split the key).
    const rival = client.refresh(keyId, SCHEME, 0, PARTIES, 1);
    for (const p of PARTIES) await assert.rejects(runJob(envs.get(p)!, ctxOf(rival)), isCode("epoch-taken"));
    // The next refresh aims at a fresh epoch, 2, and is the one activated.
    const second = client.refresh(keyId, SCHEME, 0, PARTIES, 2);
    const stored = await all(second);
    // Until a party activated epoch 2, a work item for it is retried, not served or refused.
    const early = client.sign(keyId, SCHEME, 2, [1, 2], randomBytes(8));
    await assert.rejects(runJob(envs.get(1)!, ctxOf(early)), (e: unknown) => e instanceof EpochNotActiveYet);
    for (const r of await all(activation(second, stored))) assert.equal(r.outcome.case, "activated");
    signature((await all(early, [1, 2]))[0]!); // the same item, redelivered after the activation
    for (const p of PARTIES) {
      const state = await envs.get(p)!.store.state({ tenant: "acme", keyId, scheme: SCHEME });
      assert.equal(state?.active?.epoch, 2);
      assert.deepEqual(state?.slots.length, 1, "every other slot purged");
      const kv = await new Kvm(bench.broker).open(shareBucket(p));
      const live: string[] = [];
      for await (const k of await kv.keys(`${keyId}.>`)) live.push(k);
      assert.deepEqual(live.sort(), [`${keyId}.2.${state!.active!.session}`, `${keyId}.state`].sort());
    }
    // A sign or a refresh at epoch 0 (a compromised API naming the retired epoch) is refused, and so
    // is a refresh aiming at or before the active epoch.
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8)))),
      isCode("stale-epoch"),
    );
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(client.refresh(keyId, SCHEME, 0, PARTIES, 3))),
      isCode("stale-epoch"),
    );
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(client.refresh(keyId, SCHEME, 2, PARTIES, 2))),
      isCode("stale-epoch"),
    );
    // The first refresh's shares were purged with the old epochs: it can no longer activate.
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(activation(first, firstStored))),
      isCode("share-not-found"),
    );
    // The active epoch signs under the same public key.
    const msg = randomBytes(16);
    const sig = signature((await all(client.sign(keyId, SCHEME, 2, [2, 3], msg), [2, 3]))[0]!);
    assert.equal(sig.epoch, 2);
    assert.ok(ed25519Verifies(publicKey, msg, sig.signature));
  });

  test("only the share a party confirmed for its epoch activates, with every signature over exactly it", async () => {
    const { keyId } = await newKey();
    const r1 = client.refresh(keyId, SCHEME, 0, PARTIES, 1);
    const stored1 = await all(r1);
    // Confirmations over this session, presented for a session the parties never stored or
    // confirmed (its id changed): refused.
    const moved = activation(r1, stored1);
    const mv = moved.op.value as { sessionId: Uint8Array };
    mv.sessionId = randomBytes(32);
    await assert.rejects(runJob(envs.get(1)!, ctxOf(moved)), isCode("share-not-found"));
    // The same refresh run again (the broker wiped the served-request ledgers, so every party
    // reruns it in a new session) takes the confirmation over: the first session's complete set of
    // confirmations no longer activates anything.
    await wipeServed();
    const retried = await all(r1);
    assert.notDeepEqual(
      (retried[0]!.outcome.value as { sessionId: Uint8Array }).sessionId,
      (stored1[0]!.outcome.value as { sessionId: Uint8Array }).sessionId,
    );
    await assert.rejects(
      runJob(envs.get(2)!, ctxOf(activation(r1, stored1))),
      isCode("activation-unconfirmed"),
    );
    // Valid signatures over the first session presented for the retried one: refused.
    const crossed = activation(r1, retried);
    const cv = crossed.op.value as { confirmations: { party: number; signature: Uint8Array }[] };
    cv.confirmations = (activation(r1, stored1).op.value as typeof cv).confirmations;
    await assert.rejects(runJob(envs.get(3)!, ctxOf(crossed)), isCode("activation-unconfirmed"));
    // An activation item without its suffix is refused.
    const plain = create(WorkItemSchema, { ...activation(r1, retried), operationId: r1.operationId });
    await assert.rejects(runJob(envs.get(1)!, ctxOf(plain)), isCode("bad-work-item"));
    for (const r of await all(activation(r1, retried))) assert.equal(r.outcome.case, "activated");
  });

  test("a rolled-back state (older active epoch) is refused by a worker that saw the newer one", async () => {
    const { keyId } = await newKey();
    const kv = await new Kvm(bench.broker).open(shareBucket(1));
    const epoch0 = (await kv.get(`${keyId}.state`))!.value;
    const refreshItem = client.refresh(keyId, SCHEME, 0, PARTIES);
    await all(activation(refreshItem, await all(refreshItem)));
    await kv.put(`${keyId}.state`, epoch0);
    await assert.rejects(
      runJob(envs.get(1)!, ctxOf(client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8)))),
      isCode("state-rolled-back"),
    );
  });

  test("the party checks tenant, path, role and key grant itself", async () => {
    const { keyId } = await newKey();
    const env = envs.get(1)!;
    // A work item from this account naming another tenant.
    const item = client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(
      runJob(env, ctxOf(create(WorkItemSchema, { ...item, tenant: "other" }))),
      isCode("unauthorized-request", /another tenant than its account/),
    );
    // A client of another tenant, its request put into this tenant's item.
    const foreign = bench.client("admin", ["*"], "other").sign(keyId, SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(
      runJob(env, ctxOf(create(WorkItemSchema, { ...foreign, tenant: "acme" }))),
      isCode("unauthorized-request", /client tenant differs/),
    );
    // A derivation path other than the signed one (bip340 path semantics are the same check).
    const pathed = client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8), "m/1/2");
    const op = pathed.op.value as { path: number[] };
    op.path = [1, 3];
    await assert.rejects(runJob(env, ctxOf(pathed)), isCode("unauthorized-request", /derivation path/));
    // An auditor may not sign; a signer only the keys granted to it.
    const auditor = bench.client("auditor").sign(keyId, SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(runJob(env, ctxOf(auditor)), isCode("unauthorized-request", /auditor/));
    const other = bench.client("signer", ["key_other"]).sign(keyId, SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(
      runJob(env, ctxOf(other)),
      isCode("unauthorized-request", /role signer may not sign/),
    );
    // A revoked credential, when the revocation list says so.
    const revoked = client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(
      runJob({ ...env, isRevoked: async (c) => c === client.credential }, ctxOf(revoked)),
      isCode("unauthorized-request", /revoked/),
    );
  });

  test("work items the request does not match, and attacks on stored records, are refused for their reason", async () => {
    const { keyId, dkg } = await newKey();
    const env = envs.get(1)!;
    // Key creation with other parameters than the client signed.
    const other = client.dkg(SCHEME, 2, PARTIES);
    (other.op.value as { threshold: number }).threshold = 3;
    await assert.rejects(
      runJob(env, ctxOf(other)),
      isCode("unauthorized-request", /key creation parameters/),
    );
    // A signed request for another key's signature, or for a refresh, put into a sign item.
    const elsewhere = client.sign("key_elsewhere", SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(
      runJob(env, ctxOf(create(WorkItemSchema, { ...elsewhere, keyId }))),
      isCode("unauthorized-request", /not this signing/),
    );
    const asRefresh = client.refresh(keyId, SCHEME, 0, PARTIES);
    const signOp = client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8)).op;
    await assert.rejects(
      runJob(env, ctxOf(create(WorkItemSchema, { ...asRefresh, op: signOp }))),
      isCode("unauthorized-request", /not this signing/),
    );
    const asSign = client.sign(keyId, SCHEME, 0, [1, 2], randomBytes(8));
    await assert.rejects(
      runJob(
        env,
        ctxOf(create(WorkItemSchema, { ...asSign, op: client.refresh(keyId, SCHEME, 0, PARTIES).op })),
      ),
      isCode("unauthorized-request", /not this refresh/),
    );
    // A signer that is not a party of the key; a refresh without all of the key's parties.
    await assert.rejects(
      runJob(env, ctxOf(client.sign(keyId, SCHEME, 0, [1, 9], randomBytes(8)))),
      isCode("bad-work-item", /not a party of this key/),
    );
    await assert.rejects(
      runJob(env, ctxOf(client.refresh(keyId, SCHEME, 0, [1, 2]))),
      isCode("bad-work-item", /exactly the key's parties/),
    );
    // A request that failed for good was served: the same item again is a replay.
    const once = client.sign(keyId, SCHEME, 0, [1, 9], randomBytes(8));
    await assert.rejects(runJob(env, ctxOf(once)), isCode("bad-work-item"));
    await assert.rejects(runJob(env, ctxOf(once)), isCode("replayed-request"));
    // The broker deletes the key's state at party 2 and wipes the served ledgers: the replayed
    // create-key request still finds the key in the worker's own ledger.
    await (await new Kvm(bench.broker).open(shareBucket(2))).delete(`${keyId}.state`);
    await wipeServed();
    await assert.rejects(runJob(envs.get(2)!, ctxOf(dkg)), isCode("key-exists"));
  });

  test("a retired share the broker puts back never activates again", async () => {
    const { keyId } = await newKey();
    const kv = await new Kvm(bench.broker).open(shareBucket(1));
    const r1 = client.refresh(keyId, SCHEME, 0, PARTIES, 1);
    const stored1 = await all(r1);
    const slot1 = `${keyId}.1.${Buffer.from((stored1[0]!.outcome.value as { sessionId: Uint8Array }).sessionId).toString("hex")}`;
    for (const r of await all(activation(r1, stored1))) assert.equal(r.outcome.case, "activated");
    const kept = (await kv.get(slot1))!.value;
    const r2 = client.refresh(keyId, SCHEME, 1, PARTIES, 2);
    for (const r of await all(activation(r2, await all(r2)))) assert.equal(r.outcome.case, "activated");
    assert.equal((await kv.get(slot1))?.operation, "PURGE");
    await kv.put(slot1, kept); // the broker kept the ciphertext and restores it
    await assert.rejects(runJob(envs.get(1)!, ctxOf(activation(r1, stored1))), isCode("stale-epoch"));
  });
});
