/**
 * Taproot signing at the parties: the BIP341 option comes from the client's signed request, and a
 * work item whose option differs from it (none against one, BIP86 against a merkle root, another
 * root) is refused by every party before it contributes anything. An honest item signs for the
 * output key, checked with libsecp256k1 under an output key computed independently of the parties'
 * code. Every party runs the real job code against a real nats-server.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { operationIdOf, ProtocolError, runLocal } from "@custody/core";
import { bip340Scheme, ed25519Scheme, type FrostScheme, type FrostShare } from "@custody/frost";
import {
  ClientRequestSchema,
  create,
  SignWorkSchema,
  TaprootTweakSchema,
  type WorkItem,
  WorkItemSchema,
  type WorkResult,
} from "@custody/proto";
import { PermanentFailure } from "@custody/runtime";
import { verifySchnorr, xOnlyPointAddTweak } from "tiny-secp256k1";
import { classify, type JobEnv, runJob } from "../src/jobs.js";
import { Bench, type Client, ctxOf, installShare } from "./harness.js";

const PARTIES = [1, 2, 3];
const BIP340_KEY = "key_taproot_bip340";
const ED25519_KEY = "key_taproot_ed25519";
let bench: Bench;
let client: Client;
let envs: Map<number, JobEnv>;
let groupKey: Uint8Array;

/** Runs a DKG in memory and installs every party's share as its active share of `keyId`. */
async function install(scheme: FrostScheme, keyId: string): Promise<FrostShare> {
  const sessionId = new Uint8Array(randomBytes(32));
  const run = runLocal(
    new Map(
      PARTIES.map((self) => [self, () => scheme.keygen({ sessionId, self, parties: PARTIES, threshold: 2 })]),
    ),
  );
  assert.equal(run.errors.size, 0);
  for (const [p, share] of run.results)
    await installShare(envs.get(p)!, keyId, scheme.name, scheme.encodeShare(share), PARTIES);
  return run.results.get(1)!;
}

before(async () => {
  bench = await Bench.start(PARTIES);
  client = bench.client();
  envs = new Map();
  for (const p of PARTIES) envs.set(p, await bench.worker(p, randomBytes(32)));
  groupKey = (await install(bip340Scheme, BIP340_KEY)).groupKey;
  await install(ed25519Scheme, ED25519_KEY);
});
after(async () => {
  for (const e of envs?.values() ?? []) await e.nc.close();
  await bench?.stop();
});

/**
 * A sign work item, built as the API builds it, whose signed body carries `signed` as its
 * `taproot` field (omitted when undefined) and whose SignWork carries `merkleRoot` as its Taproot
 * option (none when undefined, BIP86 when empty).
 */
function signItem(
  keyId: string,
  scheme: string,
  message: Uint8Array,
  signed: unknown,
  merkleRoot: Uint8Array | undefined,
): WorkItem {
  const body: Record<string, unknown> = { message: Buffer.from(message).toString("hex") };
  if (signed !== undefined) body.taproot = signed;
  const req = client.request("POST", `/v1/keys/${keyId}/sign`, body);
  return create(WorkItemSchema, {
    operationId: operationIdOf({ tenant: client.tenant, credential: req.credential, nonce: req.nonce }),
    keyId,
    scheme,
    tenant: client.tenant,
    createdAtMs: BigInt(Date.now()),
    client: create(ClientRequestSchema, { ...req, timestampMs: BigInt(req.timestampMs) }),
    op: {
      case: "sign",
      value: create(SignWorkSchema, {
        epoch: 0,
        signers: [1, 2],
        message,
        taproot: merkleRoot === undefined ? undefined : create(TaprootTweakSchema, { merkleRoot }),
      }),
    },
  });
}

/** Independent BIP341 output key: tagged hash by node:crypto, x-only tweak by libsecp256k1. */
function outputKey(internal: Uint8Array, merkleRoot = new Uint8Array()): Uint8Array {
  const tag = createHash("sha256").update("TapTweak").digest();
  const t = createHash("sha256").update(tag).update(tag).update(internal).update(merkleRoot).digest();
  const out = xOnlyPointAddTweak(internal, t);
  assert.ok(out);
  return out.xOnlyPubkey;
}

const signature = (r: WorkResult) => {
  assert.equal(r.outcome.case, "signature");
  return r.outcome.value as { signature: Uint8Array; publicKey: Uint8Array };
};
const refused = (why: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, "unauthorized-request", e.message);
  assert.match(e.message, why);
  return true;
};
const signers = (item: WorkItem) => Promise.all([1, 2].map((p) => runJob(envs.get(p)!, ctxOf(item))));

describe("taproot option at the parties", () => {
  test("an honest item signs for the BIP86 output key, and for a script tree's output key", async () => {
    const internal = groupKey.slice(1);
    for (const [signed, root] of [
      [{}, new Uint8Array()],
      [{ merkleRoot: "ab".repeat(32) }, new Uint8Array(32).fill(0xab)],
    ] as const) {
      const m = new Uint8Array(randomBytes(32));
      const results = await signers(signItem(BIP340_KEY, "bip340", m, signed, root));
      const q = outputKey(internal, root);
      for (const r of results) {
        const sig = signature(r);
        assert.deepEqual(sig.publicKey, q);
        assert.ok(verifySchnorr(m, q, sig.signature), "verifies under the output key");
        assert.ok(!verifySchnorr(m, internal, sig.signature), "not under the internal key");
      }
    }
  });

  test("a work item whose option differs from the signed body is refused by every party", async () => {
    const r1 = new Uint8Array(32).fill(1);
    const cases: [string, unknown, Uint8Array | undefined][] = [
      ["signed BIP86, item untweaked", {}, undefined],
      ["signed a merkle root, item untweaked", { merkleRoot: "01".repeat(32) }, undefined],
      ["signed untweaked, item BIP86", undefined, new Uint8Array()],
      ["signed untweaked, item with a merkle root", undefined, r1],
      ["signed BIP86, item with a merkle root", {}, r1],
      ["signed a merkle root, item BIP86", { merkleRoot: "01".repeat(32) }, new Uint8Array()],
      ["signed one merkle root, item another", { merkleRoot: "02".repeat(32) }, r1],
    ];
    for (const [name, signed, root] of cases) {
      const item = signItem(BIP340_KEY, "bip340", new Uint8Array(randomBytes(32)), signed, root);
      for (const p of PARTIES)
        await assert.rejects(runJob(envs.get(p)!, ctxOf(item)), refused(/taproot option differs/), name);
    }
  });

  test("a malformed signed option is refused", async () => {
    const r1 = new Uint8Array(32).fill(1);
    for (const signed of [
      null,
      "bip86",
      [],
      { merkleRoot: "01" },
      { merkleRoot: 1 },
      { root: "01".repeat(32) },
    ]) {
      const item = signItem(BIP340_KEY, "bip340", new Uint8Array(randomBytes(32)), signed, r1);
      await assert.rejects(
        runJob(envs.get(1)!, ctxOf(item)),
        refused(/invalid taproot/),
        JSON.stringify(signed),
      );
    }
  });

  test("the signed option matches upper-case hex of the same root", async () => {
    const m = new Uint8Array(randomBytes(32));
    const root = new Uint8Array(32).fill(0xcd);
    const [r] = await signers(signItem(BIP340_KEY, "bip340", m, { merkleRoot: "CD".repeat(32) }, root));
    assert.ok(verifySchnorr(m, outputKey(groupKey.slice(1), root), signature(r!).signature));
  });

  test("an ed25519 key refuses the taproot option", async () => {
    const item = signItem(ED25519_KEY, "ed25519", new Uint8Array(randomBytes(32)), {}, new Uint8Array());
    const outcomes = await Promise.allSettled([1, 2].map((p) => runJob(envs.get(p)!, ctxOf(item))));
    for (const o of outcomes) {
      assert.equal(o.status, "rejected");
      const e = (o as PromiseRejectedResult).reason as unknown;
      assert.ok(e instanceof ProtocolError, String(e));
      assert.match(e.message, /taproot/);
      assert.equal(classify(e)?.code, "protocol-bad-input", "a permanent failure, not retried");
    }
  });
});
