/**
 * The signer adapters against a scripted API that signs with ordinary keys: each chain library
 * accepts what the adapter produces (the same bytes as the library's own local signer, where that
 * is deterministic), and every corrupted signature the API could return is refused.
 */
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { after, before, test } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { createSignableMessage, getAddressDecoder } from "@solana/web3.js";
import { initEccLib, networks, Psbt, payments } from "bitcoinjs-lib";
import * as ecc from "tiny-secp256k1";
import {
  parseGwei,
  recoverMessageAddress,
  recoverTransactionAddress,
  type TransactionSerialized,
  type TypedDataDefinition,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { p2wpkhSigner, taprootSigner } from "../src/bitcoin.js";
import { CustodyClient, type Signature, SignerError } from "../src/index.js";
import { solanaSigner } from "../src/solana.js";
import { custodyAccount } from "../src/viem.js";
import { type FakeApi, startFakeApi, taprootSecret } from "./fake-api.js";

let api: FakeApi;
let client: CustodyClient;
before(async () => {
  api = await startFakeApi();
  client = new CustodyClient(api.url);
  initEccLib(ecc);
});
after(() => api.close());

const refused = (code: string) => (e: unknown) => e instanceof SignerError && e.code === code;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const flip = (h: string, at = 10) =>
  h.slice(0, at) + ((Number.parseInt(h[at]!, 16) + 1) % 16).toString(16) + h.slice(at + 1);

/** Runs `fn` with the API returning tampered signatures. */
async function tampered<T>(t: (s: Signature) => Signature, fn: () => Promise<T>) {
  api.tamper = t;
  try {
    return await fn();
  } finally {
    api.tamper = undefined;
  }
}

const tx1559 = {
  type: "eip1559",
  chainId: 1,
  nonce: 7,
  to: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  value: 10n ** 15n,
  gas: 21_000n,
  maxFeePerGas: parseGwei("30"),
  maxPriorityFeePerGas: parseGwei("1"),
} as const;
const legacy = {
  type: "legacy",
  chainId: 5,
  nonce: 1,
  to: tx1559.to,
  value: 1n,
  gas: 21_000n,
  gasPrice: 1n,
} as const;
const typed: TypedDataDefinition = {
  domain: { name: "Custody", version: "1", chainId: 1 },
  types: {
    Mail: [
      { name: "to", type: "address" },
      { name: "body", type: "string" },
    ],
  },
  primaryType: "Mail",
  message: { to: tx1559.to, body: "hello" },
};

test("viem: the account signs exactly like a local account of the same key", async () => {
  const local = privateKeyToAccount(`0x${hex(api.ecdsa.privateKey!)}`);
  const account = await custodyAccount(client, "key_ecdsa");
  assert.equal(account.address, local.address);
  assert.equal(account.publicKey, local.publicKey);
  const signed = await account.signTransaction(tx1559);
  assert.equal(signed, await local.signTransaction(tx1559), "EIP-1559");
  assert.equal(
    await recoverTransactionAddress({ serializedTransaction: signed as TransactionSerialized }),
    local.address,
  );
  const signedLegacy = await account.signTransaction(legacy);
  assert.equal(signedLegacy, await local.signTransaction(legacy), "legacy, EIP-155");
  assert.equal(await account.signMessage({ message: "hi" }), await local.signMessage({ message: "hi" }));
  assert.equal(await account.signTypedData(typed), await local.signTypedData(typed));
  const hash = `0x${"ab".repeat(32)}` as const;
  assert.equal(await account.sign!({ hash }), await local.sign({ hash }));
  assert.ok(
    api.signed.every((s) => /^[0-9a-f]{64}$/.test(s.message)),
    "only 32-byte digests are sent",
  );
});

test("viem: a derived account has the wallet's child address and signs under the path", async () => {
  const path = "m/44/60/0/0/3";
  const child = privateKeyToAccount(`0x${hex(api.ecdsa.derive(path).privateKey!)}`);
  const account = await custodyAccount(client, "key_ecdsa", { path });
  assert.equal(account.address, child.address);
  const sig = await account.signMessage({ message: "derived" });
  assert.equal(await recoverMessageAddress({ message: "derived", signature: sig }), child.address);
  assert.equal(api.signed.at(-1)!.path, path);
  await assert.rejects(custodyAccount(client, "key_ecdsa", { path: "m/0'" }), refused("unsupported"));
});

test("viem: refuses a wrong recovery id, a high s, another key's signature, a claimed other key", async () => {
  const account = await custodyAccount(client, "key_ecdsa");
  const n = secp256k1.Point.CURVE().n;
  const other = secp256k1.utils.randomSecretKey();
  const cases: Array<[string, (s: Signature) => Signature]> = [
    ["recovery id flipped", (s) => ({ ...s, recoveryId: 1 - s.recoveryId! })],
    ["recovery id 2", (s) => ({ ...s, recoveryId: 2 })],
    [
      "high s (valid, malleated)",
      (s) => {
        const high = (n - BigInt(`0x${s.signature.slice(64)}`)).toString(16).padStart(64, "0");
        return { ...s, signature: s.signature.slice(0, 64) + high, recoveryId: 1 - s.recoveryId! };
      },
    ],
    [
      "signed by another key",
      (s) => {
        const digest = Buffer.from(api.signed.at(-1)!.message, "hex");
        const r = secp256k1.Signature.fromBytes(
          secp256k1.sign(digest, other, { prehash: false, format: "recovered" }),
          "recovered",
        );
        return { ...s, signature: hex(r.toBytes("compact")), recoveryId: r.recovery! };
      },
    ],
    ["claims another public key", (s) => ({ ...s, publicKey: hex(secp256k1.getPublicKey(other)) })],
    ["one byte changed", (s) => ({ ...s, signature: flip(s.signature) })],
    ["truncated", (s) => ({ ...s, signature: s.signature.slice(2) })],
  ];
  for (const [what, t] of cases)
    await tampered(t, () =>
      assert.rejects(account.signMessage({ message: "x" }), refused("bad-signature"), what),
    );
});

test("viem: a key of another scheme is unsuitable", async () => {
  await assert.rejects(custodyAccount(client, "key_ed25519"), refused("unsuitable-key"));
});

test("bitcoin: P2WPKH input signed, validated, finalized", async () => {
  const signer = await p2wpkhSigner(client, "key_ecdsa", { path: "m/84/0/0/0/1" });
  assert.equal(hex(signer.publicKey), hex(api.ecdsa.derive("m/84/0/0/0/1").publicKey!));
  const pay = payments.p2wpkh({ pubkey: signer.publicKey, network: networks.regtest });
  const psbt = new Psbt({ network: networks.regtest })
    .addInput({ hash: "11".repeat(32), index: 0, witnessUtxo: { script: pay.output!, value: 50_000n } })
    .addOutput({ address: pay.address!, value: 40_000n });
  await psbt.signInputAsync(0, signer);
  assert.ok(psbt.validateSignaturesOfAllInputs((pub, h, sig) => ecc.verify(h, pub, sig)));
  psbt.finalizeAllInputs();
  assert.equal(psbt.extractTransaction().ins[0]!.witness.length, 2);
  await tampered(
    (s) => ({ ...s, signature: flip(s.signature, 70) }),
    () => assert.rejects(psbt.clone().signInputAsync(0, signer), refused("bad-signature")),
  );
});

test("bitcoin: Taproot key-path (BIP86) input signed for the output key, validated, finalized", async () => {
  const signer = await taprootSigner(client, "key_bip340");
  const internal = api.bip340.publicKey!.subarray(1);
  const pay = payments.p2tr({ internalPubkey: internal, network: networks.regtest });
  assert.equal(hex(signer.publicKey), hex(pay.pubkey!), "publicKey is the tweaked output key");
  assert.equal(hex(signer.publicKey), hex(ecc.xOnlyPointFromScalar(taprootSecret(api.bip340, undefined))));
  const build = () =>
    new Psbt({ network: networks.regtest })
      .addInput({
        hash: "22".repeat(32),
        index: 1,
        witnessUtxo: { script: pay.output!, value: 70_000n },
        tapInternalKey: internal,
      })
      .addOutput({ address: pay.address!, value: 60_000n });
  const psbt = build();
  await psbt.signInputAsync(0, signer);
  assert.deepEqual(api.signed.at(-1)!.taproot, {}, "asks the API for the BIP86 output key");
  assert.ok(psbt.validateSignaturesOfAllInputs((pub, h, sig) => ecc.verifySchnorr(h, pub, sig)));
  psbt.finalizeAllInputs();
  assert.equal(psbt.extractTransaction().ins[0]!.witness.length, 1);
  await tampered(
    (s) => ({ ...s, taproot: undefined, publicKey: hex(internal) }),
    () => assert.rejects(build().signInputAsync(0, signer), refused("bad-signature"), "untweaked key"),
  );
  await tampered(
    (s) => ({ ...s, signature: flip(s.signature, 100) }),
    () => assert.rejects(build().signInputAsync(0, signer), refused("bad-signature"), "corrupted"),
  );
  await assert.rejects(signer.sign(new Uint8Array(32)), refused("unsupported"));
});

test("bitcoin: Taproot with a derived key and a script tree root", async () => {
  const merkleRoot = "33".repeat(32);
  const path = "m/86/0/0/0/2";
  const signer = await taprootSigner(client, "key_bip340", { path, merkleRoot });
  const expected = ecc.xOnlyPointFromScalar(taprootSecret(api.bip340, path, merkleRoot));
  assert.equal(hex(signer.publicKey), hex(expected));
  const h = new Uint8Array(32).fill(9);
  const sig = await signer.signSchnorr!(h);
  assert.ok(ecc.verifySchnorr(h, expected, sig));
  assert.deepEqual(api.signed.at(-1), { message: hex(h), path, taproot: { merkleRoot } });
  await assert.rejects(taprootSigner(client, "key_ecdsa"), refused("unsuitable-key"));
  await assert.rejects(taprootSigner(client, "key_bip340", { merkleRoot: "00" }), refused("unsupported"));
});

test("solana: messages and transaction bytes signed with the key, checked strictly", async () => {
  const signer = await solanaSigner(client, "key_ed25519");
  const publicKey = ed25519.getPublicKey(api.ed25519Secret);
  assert.equal(signer.address, getAddressDecoder().decode(publicKey));
  const pub = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
    format: "jwk",
  });
  const content = new TextEncoder().encode("custody solana");
  const [dict] = await signer.signMessages([createSignableMessage(content)]);
  assert.ok(verify(null, content, pub, dict![signer.address]!), "OpenSSL accepts it");
  await tampered(
    (s) => ({ ...s, signature: flip(s.signature, 3) }),
    () => assert.rejects(signer.signMessages([createSignableMessage(content)]), refused("bad-signature")),
  );
  await assert.rejects(solanaSigner(client, "key_ecdsa"), refused("unsuitable-key"));
});
