/**
 * What one signing request may cost the API, through the service against a real nats-server:
 * the derivation budget (at most MAX_PATH_COMPONENTS_PER_REQUEST path components in all, refused
 * as `invalid-request` before anything is derived or queued), derivations memoised by path within
 * a request (counted on @scure/bip32's `deriveChild`, which every derivation goes through, at
 * request time and at the result check), and the signing rate charged per message.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, mock, test } from "node:test";
import type { CredentialClaims } from "@custody/credentials";
import { NatsServer } from "@custody/natsd";
import { MAX_PATH_COMPONENTS_PER_REQUEST } from "@custody/proto";
import { type LivenessTracker, provisionControl, provisionTenant } from "@custody/runtime";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { HDKey } from "@scure/bip32";
import * as ecc from "tiny-secp256k1";
import type { KeyRecord } from "../src/domain/records.js";
import { Repository } from "../src/domain/repository.js";
import { checkBatchResult } from "../src/domain/result-check.js";
import { type Actor, CustodyService, type SignInput } from "../src/domain/service.js";
import { Problem } from "../src/problems.js";

const TENANT = "acme";
let server: NatsServer;
let nc: NatsConnection;
let dir: string;
let repo: Repository;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-sign-limits-"));
  server = await NatsServer.start({ dir });
  nc = await connect({ servers: server.url });
  await provisionTenant(nc, { parties: [1, 2, 3] });
  await provisionControl(nc);
  repo = await Repository.open(nc);
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const t = new Date().toISOString();
const master = HDKey.fromMasterSeed(randomBytes(32));

/** An active key record of `scheme` (secp256k1 schemes: with the BIP32 derivation key of `master`). */
async function activeKey(scheme: string): Promise<KeyRecord> {
  const pk = master.publicKey!;
  const key: KeyRecord = {
    id: `key_${randomBytes(8).toString("hex")}`,
    tenant: TENANT,
    scheme,
    threshold: 2,
    parties: [1, 2, 3],
    status: "active",
    publicKey: hex(scheme === "bip340" ? pk.subarray(1) : pk),
    ...(scheme === "ed25519" ? {} : { derivationKey: hex(pk), chainCode: hex(master.chainCode!) }),
    epoch: 0,
    operationId: "op_dkg",
    createdAt: t,
    updatedAt: t,
  };
  await repo.createKey(key);
  return key;
}

function service(signRate?: { perSecond: number; burst: number }) {
  const liveness = { liveParties: () => [1, 2, 3] } as unknown as LivenessTracker;
  return new CustodyService({ nc, js: jetstream(nc), repo, liveness, tenant: TENANT, signRate });
}

/** A signer of every key, as credential `sub`; each call is a fresh request (nonce). */
function actor(sub: string, keyId: string, input: SignInput): Actor {
  const claims: CredentialClaims = {
    v: 1,
    sub,
    name: sub,
    role: "signer",
    tenant: TENANT,
    keys: ["*"],
    iat: 0,
    exp: 2 ** 31,
  };
  return {
    claims,
    request: {
      credential: `cred-${sub}`,
      method: "POST",
      path: `/v1/keys/${keyId}/sign`,
      body: new TextEncoder().encode(JSON.stringify(input)),
      timestampMs: Date.now(),
      nonce: randomBytes(16).toString("hex"),
      signature: "",
    },
  };
}

const sign = (s: CustodyService, sub: string, key: KeyRecord, input: SignInput) =>
  s.sign(actor(sub, key.id, input), key.id, input);

const isProblem =
  (code: string, detail?: RegExp, extra: Record<string, unknown> = {}) =>
  (e: unknown) => {
    assert.ok(e instanceof Problem, String(e));
    assert.equal(e.code, code, e.detail);
    if (detail) assert.match(e.detail, detail);
    const body = e.body();
    for (const [k, v] of Object.entries(extra)) assert.deepEqual(body[k], v, k);
    return true;
  };

const digest = () => hex(randomBytes(32));
const pathOf = (n: number, seed = 0) => `m/${Array.from({ length: n }, (_, j) => (seed + j) % 9).join("/")}`;

describe("the derivation budget of a signing request", () => {
  for (const scheme of ["bip340", "ecdsa-secp256k1"]) {
    test(`${scheme}: more than ${MAX_PATH_COMPONENTS_PER_REQUEST} path components in all are refused before anything derives`, async () => {
      const key = await activeKey(scheme);
      const s = service();
      const derive = mock.method(HDKey.prototype, "deriveChild");
      try {
        // 4 × 255 + 5: each path within the single-request limit, the batch over the budget.
        const messages = [...[0, 1, 2, 3].map((i) => ({ message: digest(), path: pathOf(255, i) }))];
        messages.push({ message: digest(), path: pathOf(5) });
        await assert.rejects(
          sign(s, "U1", key, { messages, ...(scheme === "bip340" ? { taproot: {} } : {}) }),
          isProblem("invalid-request", /at most 1024 path components in all; this one has 1025/, {
            type: "urn:custody:problem:invalid-request",
            status: 400,
            maxPathComponents: 1024,
          }),
        );
        assert.equal(derive.mock.callCount(), 0, "refused before any derivation");
        // At the budget, the request is accepted.
        messages[4]!.path = pathOf(4);
        const op = await sign(s, "U1", key, { messages });
        assert.equal(op.status, "pending");
        assert.equal((await repo.getOperation(op.id))?.request?.items?.length, 5);
      } finally {
        derive.mock.restore();
      }
    });
  }

  test("a single request keeps its limit of 255 components", async () => {
    const key = await activeKey("bip340");
    await assert.rejects(
      sign(service(), "U1", key, { message: digest(), path: pathOf(256) }),
      isProblem("invalid-request", /path too long/),
    );
    const op = await sign(service(), "U1", key, { message: digest(), path: pathOf(255) });
    assert.equal(op.status, "pending");
  });
});

describe("derivations are memoised by path within a request", () => {
  test("a Taproot batch of 256 items on one path derives it once at request time", async () => {
    const key = await activeKey("bip340");
    const derive = mock.method(HDKey.prototype, "deriveChild");
    try {
      const messages = Array.from({ length: 256 }, () => ({ message: digest(), path: "m/7/8/9" }));
      const op = await sign(service(), "U1", key, { messages, taproot: {} });
      assert.equal(derive.mock.callCount(), 3, "one derivation of three steps");
      const items = op.request!.items!;
      assert.equal(items.length, 256);
      assert.ok(items.every((i) => i.taproot?.outputKey === items[0]!.taproot?.outputKey));
    } finally {
      derive.mock.restore();
    }
  });

  test("the result check of a 256-item batch on two paths derives each once", async () => {
    const key = await activeKey("bip340");
    const children = ["m/1/2", "m/3/4/5"].map((p) => master.derive(p));
    const items = Array.from({ length: 256 }, (_, i) => ({
      message: digest(),
      path: i % 2 === 0 ? "m/1/2" : "m/3/4/5",
    }));
    const sigs = items.map((it, i) => {
      const child = children[i % 2]!;
      return {
        signature: hex(ecc.signSchnorr(Buffer.from(it.message, "hex"), child.privateKey!)),
        publicKey: hex(child.publicKey!.subarray(1)),
        epoch: 0,
      };
    });
    const op = {
      id: "op_batch",
      type: "sign" as const,
      status: "pending" as const,
      keyId: key.id,
      tenant: TENANT,
      participants: [1, 2],
      reports: {},
      createdAt: t,
      updatedAt: t,
      request: { message: "", epoch: 0, items },
    };
    const derive = mock.method(HDKey.prototype, "deriveChild");
    try {
      const r = checkBatchResult(key, op, 1, sigs);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(derive.mock.callCount(), 5, "2 + 3 steps, once each");
    } finally {
      derive.mock.restore();
    }
  });
});

describe("the signing rate is charged per message", () => {
  test("a batch takes one token per message; a short bucket refuses it with 429 and Retry-After", async () => {
    const key = await activeKey("ed25519");
    const s = service({ perSecond: 0.001, burst: 10 });
    const batch = (n: number) => ({ messages: Array.from({ length: n }, () => ({ message: "00" })) });
    await sign(s, "U2", key, batch(8));
    await assert.rejects(
      sign(s, "U2", key, batch(3)),
      isProblem("rate-limited", /too many signing requests/, { status: 429 }),
    );
    await sign(s, "U2", key, batch(2));
    await assert.rejects(sign(s, "U2", key, { message: "00" }), isProblem("rate-limited"));
    assert.equal((await sign(s, "U3", key, { message: "00" })).status, "pending", "another credential");
  });

  test("a batch above the burst is admitted from a full bucket and leaves the credential in debt", async () => {
    const key = await activeKey("ed25519");
    const s = service({ perSecond: 1, burst: 10 });
    const messages = Array.from({ length: 12 }, () => ({ message: "00" }));
    await sign(s, "U4", key, { message: "00" });
    await assert.rejects(sign(s, "U4", key, { messages }), (e) => {
      assert.ok(e instanceof Problem && e.code === "rate-limited", String(e));
      assert.equal(e.retryAfter, 1, "until the bucket is full again");
      return true;
    });
    const s2 = service({ perSecond: 1, burst: 10 });
    assert.equal((await sign(s2, "U4", key, { messages })).status, "pending", "from a full bucket");
    await assert.rejects(sign(s2, "U4", key, { message: "00" }), (e) => {
      assert.ok(e instanceof Problem && e.code === "rate-limited", String(e));
      assert.equal(e.retryAfter, 3, "the debt of 2 and the next token");
      return true;
    });
  });
});
