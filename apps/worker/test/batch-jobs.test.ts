/**
 * Signing batches through the worker's job path on a real broker: two parties run one batch work
 * item as one session and report every signature in order; a batch work item the worker must not
 * run (over its scheme's size, with a message outside its items, an item the scheme refuses) ends
 * before any session.
 */
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ProtocolError } from "@custody/core";
import {
  ActivateWorkSchema,
  activationOperationId,
  create,
  ShareConfirmationSchema,
  type WorkItem,
  WorkItemSchema,
  type WorkResult,
} from "@custody/proto";
import { PermanentFailure } from "@custody/runtime";
import { type JobEnv, runJob } from "../src/jobs.js";
import { Bench, type Client, ctxOf } from "./harness.js";

const PARTIES = [1, 2];
let bench: Bench;
let client: Client;
const envs = new Map<number, JobEnv>();

before(async () => {
  bench = await Bench.start(PARTIES);
  client = bench.client();
  for (const p of PARTIES) envs.set(p, await bench.worker(p, randomBytes(32)));
});
after(async () => {
  for (const e of envs.values()) await e.nc.close();
  await bench?.stop();
});

const run = (p: number, item: WorkItem) => runJob(envs.get(p)!, ctxOf(item));
const all = (item: WorkItem) => Promise.all(PARTIES.map((p) => run(p, item)));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** Ed25519 by OpenSSL. */
const verifyEd25519 = (publicKey: Uint8Array, message: Uint8Array, sig: Uint8Array) =>
  verify(
    null,
    message,
    createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    }),
    sig,
  );

/** The batch work item an honest API publishes for a signed request of `items`. */
function batchItem(
  keyId: string,
  scheme: string,
  items: { message: Uint8Array; path?: number[] }[],
  edit: (work: { message: Uint8Array }) => void = () => {},
): WorkItem {
  return client.signBatch(keyId, scheme, 0, PARTIES, items, edit);
}

/** A 2-of-2 key made by DKG and activated at both parties. */
async function newKey(scheme: string) {
  const dkg = client.dkg(scheme, 2, PARTIES);
  const results = await all(dkg);
  const stored = results.map((r) => {
    assert.equal(r.outcome.case, "shareStored");
    return r.outcome.value as {
      epoch: number;
      sessionId: Uint8Array;
      confirmation: Uint8Array;
      publicKey: Uint8Array;
    };
  });
  const act = create(WorkItemSchema, {
    operationId: activationOperationId(dkg.operationId),
    keyId: dkg.keyId,
    scheme,
    tenant: dkg.tenant,
    op: {
      case: "activate",
      value: create(ActivateWorkSchema, {
        epoch: stored[0]!.epoch,
        sessionId: stored[0]!.sessionId,
        confirmations: results.map((r, i) =>
          create(ShareConfirmationSchema, { party: r.party, signature: stored[i]!.confirmation }),
        ),
      }),
    },
  });
  for (const r of await all(act)) assert.equal(r.outcome.case, "activated");
  return { keyId: dkg.keyId, publicKey: stored[0]!.publicKey };
}

const signaturesOf = (r: WorkResult) => {
  assert.equal(r.outcome.case, "signatureBatch");
  return (
    r.outcome.value as { signatures: { signature: Uint8Array; publicKey: Uint8Array; epoch: number }[] }
  ).signatures;
};

const isCode = (code: string) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

describe("signing batches through the job path", { timeout: 180_000 }, () => {
  test("both signers report every signature of the batch, in order, each over its own message", async () => {
    const { keyId, publicKey } = await newKey("ed25519");
    const items = Array.from({ length: 16 }, (_, i) => ({ message: randomBytes(8 + i) }));
    const [a, b] = await all(batchItem(keyId, "ed25519", items));
    const sa = signaturesOf(a!);
    assert.deepEqual(signaturesOf(b!), sa);
    assert.equal(sa.length, 16);
    sa.forEach((s, i) => {
      assert.equal(hex(s.publicKey), hex(publicKey));
      assert.equal(s.epoch, 0);
      assert.ok(verifyEd25519(publicKey, items[i]!.message, s.signature), `signature ${i}`);
    });
  });

  test("a batch over its scheme's size, with a message outside its items, or an item the scheme refuses never runs", async () => {
    const digests = (n: number) => Array.from({ length: n }, () => ({ message: randomBytes(32) }));
    await assert.rejects(
      run(1, batchItem("k_nowhere", "ecdsa-secp256k1", digests(33))),
      isCode("bad-work-item"),
    );
    await assert.rejects(
      run(
        1,
        batchItem("k_nowhere", "ed25519", digests(2), (w) => (w.message = Uint8Array.of(1))),
      ),
      // The party's own check of the signed body refuses it first.
      isCode("unauthorized-request"),
    );
    await assert.rejects(
      run(1, batchItem("k_nowhere", "ecdsa-secp256k1", [...digests(2), { message: randomBytes(31) }])),
      (e) => e instanceof ProtocolError && e.kind === "bad-input",
    );
    await assert.rejects(
      run(1, batchItem("k_nowhere", "ed25519", [{ message: randomBytes(4), path: [1] }])),
      (e) => e instanceof ProtocolError && e.kind === "bad-input",
    );
  });
});
