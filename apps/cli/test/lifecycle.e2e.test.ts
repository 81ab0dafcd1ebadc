/**
 * End to end through API + NATS + workers, each a real process: DKG -> sign -> refresh -> sign for
 * 2-of-3 and 3-of-5, Ed25519 and BIP340, every signature checked by an independent verifier.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CustodyClient } from "@custody/sdk";
import { HDKey } from "@scure/bip32";
import type { Stack } from "../src/index.js";
import { startTestStack, stopTestStack, verifyBip340, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({ parties: 5 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(() => stopTestStack(stack));

const verifiers = {
  ed25519: (pk: string, m: Uint8Array, s: string) => verifyEd25519(pk, m, s),
  bip340: (pk: string, m: Uint8Array, s: string) => verifyBip340(pk, m, s),
} as const;

async function signOnce(keyId: string, message: Uint8Array) {
  const op = await api.wait(await api.sign(keyId, { message: Buffer.from(message).toString("hex") }), 60_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  return op;
}

for (const scheme of ["ed25519", "bip340"] as const) {
  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    describe(`${scheme} ${t}-of-${n}`, () => {
      test("DKG, sign, refresh, sign: same public key, next epoch, standard signatures", async () => {
        const created = await api.wait(
          await api.createKey({ scheme, threshold: t, parties: n, label: "e2e" }),
          60_000,
        );
        assert.equal(created.status, "succeeded", JSON.stringify(created.error));
        const key = await api.getKey(created.keyId);
        assert.equal(key.status, "active");
        assert.equal(key.epoch, 0);
        assert.equal(key.parties.length, n);
        assert.equal(key.threshold, t);
        assert.match(key.publicKey ?? "", /^[0-9a-f]{64}$/);
        const verify = verifiers[scheme];

        const m1 = randomBytes(32);
        const s1 = await signOnce(key.id, m1);
        assert.equal(s1.participants.length, t);
        assert.equal(s1.signature?.publicKey, key.publicKey);
        assert.equal(s1.signature?.epoch, 0);
        assert.ok(verify(key.publicKey!, m1, s1.signature!.signature), "epoch-0 signature verifies");
        assert.ok(
          !verify(key.publicKey!, randomBytes(32), s1.signature!.signature),
          "verifier rejects another message",
        );

        const refreshed = await api.wait(await api.refresh(key.id), 60_000);
        assert.equal(refreshed.status, "succeeded", JSON.stringify(refreshed.error));
        const after1 = await api.getKey(key.id);
        assert.equal(after1.publicKey, key.publicKey, "refresh keeps the public key");
        assert.equal(after1.epoch, 1, "refresh advances the epoch");

        const m2 = randomBytes(32);
        const s2 = await signOnce(key.id, m2);
        assert.equal(s2.signature?.epoch, 1);
        assert.ok(verify(key.publicKey!, m2, s2.signature!.signature), "epoch-1 signature verifies");
      });
    });
  }
}

test("signing by different signer sets yields valid signatures of one key", async () => {
  const created = await api.wait(
    await api.createKey({ scheme: "ed25519", threshold: 2, parties: 5 }),
    60_000,
  );
  const key = await api.getKey(created.keyId);
  const sets = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const m = randomBytes(40);
    const op = await signOnce(key.id, m);
    sets.add(op.participants.join(","));
    assert.ok(verifyEd25519(key.publicKey!, m, op.signature!.signature));
  }
  assert.ok(sets.size > 1, "the API spreads signing over live parties");
});

test("bip340 signing along BIP32 paths verifies under the child key an independent library derives from the xpub", async () => {
  const created = await api.wait(await api.createKey({ scheme: "bip340", threshold: 2, parties: 3 }), 60_000);
  assert.equal(created.status, "succeeded", JSON.stringify(created.error));
  const key = await api.getKey(created.keyId);
  assert.match(key.xpub ?? "", /^xpub/);
  const root = HDKey.fromExtendedKey(key.xpub!);
  assert.equal(
    Buffer.from(root.publicKey!).subarray(1).toString("hex"),
    key.publicKey,
    "xpub carries the key",
  );
  for (const path of ["m/44/60/0/0/5", "m/0", "m/1/2/3"]) {
    const m = randomBytes(32);
    const op = await api.wait(await api.sign(key.id, { message: m.toString("hex"), path }), 60_000);
    assert.equal(op.status, "succeeded", JSON.stringify(op.error));
    const child = Buffer.from(root.derive(path).publicKey!).subarray(1).toString("hex");
    assert.equal(op.signature!.publicKey, child, `${path} signs under the derived key`);
    assert.equal(op.signature!.path, path);
    assert.ok(verifyBip340(child, m, op.signature!.signature));
    assert.ok(!verifyBip340(key.publicKey!, m, op.signature!.signature), "not valid under the root key");
  }
});
