/**
 * The API's check of a party's signing-batch result: real signatures made here (node:crypto for
 * Ed25519, tiny-secp256k1 for ECDSA on BIP32 children) are accepted, and each forgery, starting
 * from an accepted batch and changing one thing, is refused with its code, so each test fails when
 * the check it targets is removed.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign as signEd25519 } from "node:crypto";
import { describe, test } from "node:test";
import { HDKey } from "@scure/bip32";
import * as ecc from "tiny-secp256k1";
import type { KeyRecord, OperationRecord, SignItemRecord } from "../src/domain/records.js";
import {
  checkBatchResult,
  checkSignatureResult,
  type ReportedSignature,
} from "../src/domain/result-check.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const EPOCH = 2;
const t = new Date(0).toISOString();

const keyRecord = (scheme: string, publicKey: string, extra: Partial<KeyRecord> = {}): KeyRecord => ({
  id: "key_b",
  tenant: "acme",
  scheme,
  threshold: 2,
  parties: [1, 2, 3],
  status: "active",
  publicKey,
  epoch: EPOCH,
  operationId: "op_dkg",
  createdAt: t,
  updatedAt: t,
  ...extra,
});

const batchOp = (items: SignItemRecord[]): OperationRecord => ({
  id: "op_batch",
  type: "sign",
  status: "pending",
  keyId: "key_b",
  tenant: "acme",
  participants: [1, 2],
  reports: {},
  createdAt: t,
  updatedAt: t,
  request: { message: "", epoch: EPOCH, items },
});

function refusedWith(r: ReturnType<typeof checkBatchResult>, code: string, text?: RegExp) {
  assert.equal(r.ok, false, "forged batch accepted");
  if (r.ok) return;
  assert.equal(r.code, code, r.message);
  if (text) assert.match(r.message, text);
}

describe("signing batch results", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pk = hex(Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url"));
  const key = keyRecord("ed25519", pk);
  const messages = Array.from({ length: 5 }, (_, i) =>
    createHash("sha256")
      .update(`m${i}`)
      .digest()
      .subarray(0, i + 1),
  );
  const items = messages.map((m) => ({ message: hex(m) }));
  const op = batchOp(items);
  const good: ReportedSignature[] = messages.map((m) => ({
    signature: hex(signEd25519(null, m, privateKey)),
    publicKey: pk,
    epoch: EPOCH,
  }));

  test("every signature over its own item passes, with the key of each", () => {
    const r = checkBatchResult(key, op, 2, good);
    assert.deepEqual(r, { ok: true, publicKeys: items.map(() => pk) });
  });

  test("one bad signature refuses the batch, naming it", () => {
    const swapped = [good[1]!, good[0]!, ...good.slice(2)];
    refusedWith(checkBatchResult(key, op, 2, swapped), "bad-result-signature", /^signature 0: /);
    const stale = good.map((s, i) => (i === 3 ? { ...s, epoch: EPOCH - 1 } : s));
    refusedWith(checkBatchResult(key, op, 2, stale), "bad-result-epoch", /^signature 3: /);
  });

  test("the count must be the batch's", () => {
    refusedWith(checkBatchResult(key, op, 2, good.slice(1)), "bad-result-count");
    refusedWith(checkBatchResult(key, op, 2, [...good, good[0]!]), "bad-result-count");
  });

  test("only a signer reports, and batch and single results do not mix", () => {
    refusedWith(checkBatchResult(key, op, 3, good), "bad-result-signer");
    const single: OperationRecord = { ...op, request: { message: items[0]!.message, epoch: EPOCH } };
    refusedWith(checkBatchResult(key, single, 2, good.slice(0, 1)), "bad-result-operation");
    const r = checkSignatureResult(key, op, 2, good[0]!);
    assert.equal(r.ok ? "accepted" : r.code, "bad-result-operation");
  });

  test("ecdsa-secp256k1: each item under the BIP32 child of its own path", () => {
    const d = createHash("sha256").update("batch ecdsa").digest();
    const chainCode = createHash("sha256").update("batch chain").digest();
    const root = new HDKey({ privateKey: d, chainCode });
    const ecKey = keyRecord("ecdsa-secp256k1", hex(root.publicKey!), { chainCode: hex(chainCode) });
    const paths = [undefined, "m/0/1", "m/0/2", "m/0/1"];
    const ecItems = paths.map((path, i) => ({
      message: hex(createHash("sha256").update(`d${i}`).digest()),
      path,
    }));
    const sigs = ecItems.map((it) => {
      const child = it.path ? root.derive(it.path) : root;
      return {
        signature: hex(ecc.sign(Buffer.from(it.message, "hex"), child.privateKey!)),
        publicKey: hex(child.publicKey!),
        epoch: EPOCH,
      };
    });
    const ok = checkBatchResult(ecKey, batchOp(ecItems), 1, sigs);
    assert.equal(ok.ok, true, ok.ok ? "" : ok.message);
    // Item 2's signature made under item 1's child key: refused as the wrong key.
    const wrong = sigs.map((s, i) => (i === 2 ? sigs[1]! : s));
    refusedWith(checkBatchResult(ecKey, batchOp(ecItems), 1, wrong), "bad-result-key", /^signature 2: /);
  });

  test("paths whose indices run together (m/1/23, m/12/3) are told apart: each item checks its own child", () => {
    const d = createHash("sha256").update("batch paths").digest();
    const chainCode = createHash("sha256").update("batch paths chain").digest();
    const root = new HDKey({ privateKey: d, chainCode });
    const ecKey = keyRecord("ecdsa-secp256k1", hex(root.publicKey!), { chainCode: hex(chainCode) });
    const items = ["m/1/23", "m/12/3"].map((path, i) => ({
      message: hex(createHash("sha256").update(`p${i}`).digest()),
      path,
    }));
    const signUnder = (path: string, message: string) => {
      const child = root.derive(path);
      return {
        signature: hex(ecc.sign(Buffer.from(message, "hex"), child.privateKey!)),
        publicKey: hex(child.publicKey!),
        epoch: EPOCH,
      };
    };
    const good = items.map((it) => signUnder(it.path, it.message));
    const ok = checkBatchResult(ecKey, batchOp(items), 1, good);
    assert.equal(ok.ok, true, ok.ok ? "" : ok.message);
    // Item 1 signed under item 0's child (m/1/23) instead of its own (m/12/3).
    const swapped = [good[0]!, signUnder("m/1/23", items[1]!.message)];
    refusedWith(checkBatchResult(ecKey, batchOp(items), 1, swapped), "bad-result-key", /^signature 1: /);
  });
});
