/**
 * Threshold ECDSA (DKLs23) end to end: DKG, sign with and without a BIP32 path, refresh, sign again.
 * Every signature is checked by OpenSSL (node:crypto), by libsecp256k1 (tiny-secp256k1, strict
 * low-s) and by public-key recovery; derived keys come from the xpub through @scure/bip32.
 * The workers run with one job thread, so each party's base OTs with its two counterparties run
 * in two threads (the default on this kind of 2-core host is none; in-process tests cover that).
 */
import assert from "node:assert/strict";
import { createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import { after, before, test } from "node:test";
import { CustodyClient } from "@custody/sdk";
import { HDKey } from "@scure/bip32";
import * as ecc from "tiny-secp256k1";
import type { Stack } from "../src/index.js";
import { startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({
    parties: 3,
    jobThreads: 1,
    roundTimeoutMs: 60_000,
    joinTimeoutMs: 20_000,
    ackWaitMs: 30_000,
  });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(() => stopTestStack(stack));

function opensslVerify(publicKeyHex: string, message: Buffer, derHex: string): boolean {
  const full = Buffer.from(ecc.pointCompress(Buffer.from(publicKeyHex, "hex"), false));
  const jwk = {
    kty: "EC",
    crv: "secp256k1",
    x: full.subarray(1, 33).toString("base64url"),
    y: full.subarray(33).toString("base64url"),
  };
  return verify("sha256", message, createPublicKey({ key: jwk, format: "jwk" }), Buffer.from(derHex, "hex"));
}

function checkSignature(
  publicKeyHex: string,
  message: Buffer,
  s: { signature: string; der?: string; recoveryId?: number },
) {
  const digest = createHash("sha256").update(message).digest();
  const sig = Buffer.from(s.signature, "hex");
  assert.ok(opensslVerify(publicKeyHex, message, s.der!), "OpenSSL accepts the DER signature");
  assert.ok(
    ecc.verify(digest, Buffer.from(publicKeyHex, "hex"), sig, true),
    "libsecp256k1 (strict low-s) accepts it",
  );
  const recovered = ecc.recover(digest, sig, s.recoveryId as 0 | 1 | 2 | 3, true);
  assert.equal(Buffer.from(recovered!).toString("hex"), publicKeyHex, "the recovery id recovers the key");
}

test("ecdsa-secp256k1 2-of-3: DKG, sign (root and derived), refresh keeps key and addresses, sign again", async () => {
  const created = await api.wait(
    await api.createKey({ scheme: "ecdsa-secp256k1", threshold: 2, parties: 3 }),
    180_000,
  );
  assert.equal(created.status, "succeeded", JSON.stringify(created.error));
  const key = await api.getKey(created.keyId);
  assert.match(key.publicKey!, /^0[23][0-9a-f]{64}$/);
  assert.match(key.chainCode!, /^[0-9a-f]{64}$/);
  const root = HDKey.fromExtendedKey(key.xpub!);
  assert.equal(Buffer.from(root.publicKey!).toString("hex"), key.publicKey);

  const m1 = randomBytes(100);
  const d1 = createHash("sha256").update(m1).digest("hex");
  const s1 = await api.wait(await api.sign(key.id, { message: d1 }), 60_000);
  assert.equal(s1.status, "succeeded", JSON.stringify(s1.error));
  assert.equal(s1.signature!.publicKey, key.publicKey);
  checkSignature(key.publicKey!, m1, s1.signature!);

  const path = "m/44/60/0/0/5";
  const child = Buffer.from(root.derive(path).publicKey!).toString("hex");
  const s2 = await api.wait(await api.sign(key.id, { message: d1, path }), 60_000);
  assert.equal(s2.status, "succeeded", JSON.stringify(s2.error));
  assert.equal(s2.signature!.publicKey, child, "signs under the child key any wallet derives from the xpub");
  checkSignature(child, m1, s2.signature!);

  const refreshed = await api.wait(await api.refresh(key.id), 180_000);
  assert.equal(refreshed.status, "succeeded", JSON.stringify(refreshed.error));
  const after1 = await api.getKey(key.id);
  assert.equal(after1.publicKey, key.publicKey);
  assert.equal(after1.xpub, key.xpub, "refresh keeps the chain code, hence every address");
  assert.equal(after1.epoch, 1);

  const m3 = randomBytes(10);
  const s3 = await api.wait(
    await api.sign(key.id, { message: createHash("sha256").update(m3).digest("hex"), path }),
    60_000,
  );
  assert.equal(s3.status, "succeeded", JSON.stringify(s3.error));
  assert.equal(s3.signature!.epoch, 1);
  checkSignature(child, m3, s3.signature!);
});

test("ecdsa-secp256k1 refuses a message that is not a 32-byte digest", async () => {
  const keys = (await api.listKeys()).filter((k) => k.scheme === "ecdsa-secp256k1" && k.status === "active");
  assert.ok(keys.length > 0);
  await assert.rejects(
    api.sign(keys[0]!.id, { message: "00".repeat(31) }),
    (e: { status?: number }) => e.status === 400,
  );
});
