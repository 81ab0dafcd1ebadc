/**
 * Taproot end to end: a bip340 key created through the real stack spends BIP86 P2TR outputs by the
 * key path (root key and the derived key m/0/1, signed through the SDK) and a P2TR output with a
 * script tree (signed with `custody sign --taproot --merkle-root`). bitcoinjs-lib builds each
 * spend, checks the signature (libsecp256k1 through tiny-secp256k1) and finalizes it; the extracted
 * transaction's BIP341 sighash is verified again under the output key. Keys, output keys and
 * addresses come from the xpub and bitcoinjs-lib, never from the API's own views, which must agree.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ApiProblem, CustodyClient, type Key } from "@custody/sdk";
import { HDKey } from "@scure/bip32";
import { initEccLib, Psbt, payments, Transaction } from "bitcoinjs-lib";
import * as ecc from "tiny-secp256k1";
import { CLI_MAIN, type Stack } from "../src/index.js";
import { startTestStack, stopTestStack } from "./helpers.js";

initEccLib(ecc);

let stack: Stack | undefined;
let api: CustodyClient;
let key: Key;
const TIMEOUT = { timeout: 240_000 };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const PREV_VALUE = 100_000n;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  const created = await api.wait(
    await api.createKey({ scheme: "bip340", threshold: 2, parties: 3 }),
    180_000,
  );
  assert.equal(created.status, "succeeded", JSON.stringify(created.error));
  key = await api.getKey(created.keyId);
}, TIMEOUT);
after(() => stopTestStack(stack));

/** How a spend gets its key-path signature: the sighash in, the 64-byte signature out. */
type SignSighash = (sighash: Uint8Array) => Promise<Uint8Array>;

/**
 * Spends a P2TR output of `internalKey` (committing to `scriptTree` when given) by the key path with
 * a bitcoinjs-lib PSBT whose signer asks custody for the signature; returns the output key.
 */
async function spend(
  internalKey: Uint8Array,
  sign: SignSighash,
  scriptTree?: { output: Uint8Array },
): Promise<{ outputKey: string; address: string; merkleRoot?: string }> {
  const p2tr = payments.p2tr({ internalPubkey: internalKey, ...(scriptTree ? { scriptTree } : {}) });
  const outputKey = p2tr.pubkey!;
  const psbt = new Psbt();
  psbt.addInput({
    hash: createHash("sha256").update("a funding transaction").digest(),
    index: 0,
    witnessUtxo: { script: p2tr.output!, value: PREV_VALUE },
    tapInternalKey: internalKey,
    ...(p2tr.hash ? { tapMerkleRoot: p2tr.hash } : {}),
  });
  psbt.addOutput({ script: p2tr.output!, value: PREV_VALUE - 1_000n });
  await psbt.signTaprootInputAsync(0, {
    publicKey: outputKey,
    sign: () => Promise.reject(new Error("key-path spends sign with Schnorr")),
    signSchnorr: sign,
  });
  assert.ok(
    psbt.validateSignaturesOfAllInputs((pubkey, hash, sig) => ecc.verifySchnorr(hash, pubkey, sig)),
    "bitcoinjs-lib accepts the key-path signature",
  );
  psbt.finalizeAllInputs();
  const tx = psbt.extractTransaction();
  const [sig] = tx.ins[0]!.witness;
  assert.equal(sig!.length, 64, "SIGHASH_DEFAULT: a bare 64-byte signature");
  const sighash = tx.hashForWitnessV1(0, [p2tr.output!], [PREV_VALUE], Transaction.SIGHASH_DEFAULT);
  assert.ok(ecc.verifySchnorr(sighash, outputKey, sig!), "the spend's signature verifies under Q");
  assert.ok(!ecc.verifySchnorr(sighash, internalKey, sig!), "and not under the internal key");
  return {
    outputKey: hex(outputKey),
    address: p2tr.address!,
    ...(p2tr.hash ? { merkleRoot: hex(p2tr.hash) } : {}),
  };
}

/** Signs through the SDK; checks the signature view's Taproot output against `expect`. */
function viaSdk(path: string | undefined, seen: { taproot?: unknown; publicKey?: string }[]): SignSighash {
  return async (sighash) => {
    const done = await api.wait(
      await api.sign(key.id, { message: hex(sighash), ...(path ? { path } : {}), taproot: {} }),
      60_000,
    );
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    seen.push(done.signature!);
    return Buffer.from(done.signature!.signature, "hex");
  };
}

test("the key view shows the BIP86 output key and address bitcoinjs-lib computes", TIMEOUT, () => {
  const internal = Buffer.from(key.publicKey!, "hex");
  const p2tr = payments.p2tr({ internalPubkey: internal });
  assert.deepEqual(key.taproot, {
    internalKey: key.publicKey,
    outputKey: hex(p2tr.pubkey!),
    address: p2tr.address,
  });
  assert.match(key.taproot!.address, /^bc1p[02-9ac-hj-np-z]{58}$/);
});

test("a BIP86 key-path spend of the root key", TIMEOUT, async () => {
  const internal = Buffer.from(key.publicKey!, "hex");
  const seen: { taproot?: unknown; publicKey?: string }[] = [];
  const out = await spend(internal, viaSdk(undefined, seen));
  assert.equal(seen[0]!.publicKey, out.outputKey, "the signature names the output key");
  assert.deepEqual(seen[0]!.taproot, { internalKey: key.publicKey, ...out });
});

test("a BIP86 key-path spend of the derived key m/0/1 (internal key from the xpub)", TIMEOUT, async () => {
  const child = HDKey.fromExtendedKey(key.xpub!).derive("m/0/1").publicKey!;
  const internal = child.subarray(1);
  assert.notEqual(hex(internal), key.publicKey);
  const seen: { taproot?: unknown; publicKey?: string }[] = [];
  const out = await spend(internal, viaSdk("m/0/1", seen));
  assert.equal(seen[0]!.publicKey, out.outputKey);
  assert.deepEqual(seen[0]!.taproot, { internalKey: hex(internal), ...out });
});

test(
  "a key-path spend of an output with a script tree, signed with custody sign --taproot --merkle-root",
  TIMEOUT,
  async () => {
    const internal = Buffer.from(key.publicKey!, "hex");
    // One leaf: <some other key> OP_CHECKSIG.
    const leafKey = ecc.xOnlyPointFromScalar(createHash("sha256").update("a script-path key").digest());
    const scriptTree = { output: Uint8Array.of(0x20, ...leafKey, 0xac) };
    const merkleRoot = hex(payments.p2tr({ internalPubkey: internal, scriptTree }).hash!);
    let shown: Record<string, unknown> | undefined;
    const out = await spend(
      internal,
      async (sighash) => {
        const r = spawnSync(
          process.execPath,
          [
            CLI_MAIN,
            "sign",
            "--key",
            key.id,
            "--message",
            hex(sighash),
            "--taproot",
            "--merkle-root",
            merkleRoot,
            "--json",
            "--profile",
            join(stack!.options.dir, "profile.json"),
          ],
          { encoding: "utf8" },
        );
        assert.equal(r.status, 0, r.stderr);
        shown = JSON.parse(r.stdout) as Record<string, unknown>;
        return Buffer.from(shown.signature as string, "hex");
      },
      scriptTree,
    );
    assert.equal(out.merkleRoot, merkleRoot);
    assert.equal(shown!.publicKey, out.outputKey);
    assert.deepEqual(shown!.taproot, { internalKey: key.publicKey, ...out });
  },
);

test(
  "taproot is refused with 400 for a malformed merkle root and for keys that are not bip340",
  TIMEOUT,
  async () => {
    const message = "00".repeat(32);
    const status400 = (detail: RegExp) => (e: unknown) => {
      assert.ok(e instanceof ApiProblem, String(e));
      assert.equal(e.status, 400);
      assert.match(e.detail ?? "", detail);
      return true;
    };
    await assert.rejects(
      api.sign(key.id, { message, taproot: { merkleRoot: "ab" } }),
      status400(/merkleRoot/),
    );
    const ed = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 180_000);
    assert.equal(ed.status, "succeeded", JSON.stringify(ed.error));
    await assert.rejects(api.sign(ed.keyId, { message, taproot: {} }), status400(/bip340/));
    assert.equal((await api.getKey(ed.keyId)).taproot, undefined, "no Taproot view for an ed25519 key");
  },
);
