/**
 * The API's check of party signature results (issue 9, finding 6): real signatures made here with
 * node:crypto, tiny-secp256k1 and noble (derived keys through @scure/bip32) are accepted, and each
 * forgery is refused with its code. Every forgery starts from an accepted result and changes one
 * thing, so each test fails when the check it targets is removed.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign as signEd25519 } from "node:crypto";
import { test } from "node:test";
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { HDKey } from "@scure/bip32";
import * as ecc from "tiny-secp256k1";
import type { KeyRecord, OperationRecord } from "../src/domain/records.js";
import { checkSignatureResult, type ReportedSignature } from "../src/domain/result-check.js";
import { taprootView } from "../src/domain/taproot.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const N = secp256k1.Point.Fn.ORDER;
const EPOCH = 3;
const SIGNER = 3;
const CHAIN_CODE = createHash("sha256").update("result-check chain code").digest();
const PATH = "m/44/0/7";

function keyRecord(scheme: string, publicKey: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  const t = new Date(0).toISOString();
  return {
    id: "key_1",
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
  };
}

function signOp(message: Uint8Array, path?: string, extra: Partial<OperationRecord> = {}): OperationRecord {
  const t = new Date(0).toISOString();
  return {
    id: "op_sign",
    type: "sign",
    status: "pending",
    keyId: "key_1",
    tenant: "acme",
    participants: [1, 3],
    reports: {},
    createdAt: t,
    updatedAt: t,
    request: { message: hex(message), path, epoch: EPOCH },
    ...extra,
  };
}

/** A secp256k1 secret whose public key has the wanted y parity (0x02 even, 0x03 odd). */
function secret(label: string, prefix: 2 | 3): Uint8Array {
  for (let i = 0; ; i++) {
    const d = createHash("sha256").update(`${label}/${i}`).digest();
    if (ecc.isPrivate(d) && ecc.pointFromScalar(d, true)![0] === prefix) return d;
  }
}

/** The child secret along `path` (what a party set holding shares of `d` signs with). */
const childSecret = (d: Uint8Array, path: string) =>
  new HDKey({ privateKey: d, chainCode: CHAIN_CODE }).derive(path).privateKey!;

function refused(
  key: KeyRecord,
  op: OperationRecord,
  sig: ReportedSignature,
  code: string,
  party = SIGNER,
): void {
  const r = checkSignatureResult(key, op, party, sig);
  assert.equal(r.ok, false, "forged result accepted");
  assert.equal(r.ok ? undefined : r.code, code, r.ok ? "" : r.message);
}

function accepted(key: KeyRecord, op: OperationRecord, sig: ReportedSignature): void {
  assert.deepEqual(checkSignatureResult(key, op, SIGNER, sig), { ok: true, publicKey: sig.publicKey });
}

const flip = (sigHex: string, byte: number) => {
  const b = Buffer.from(sigHex, "hex");
  b[byte]! ^= 0x01;
  return hex(b);
};

// --- Ed25519 -------------------------------------------------------------------------------------

function ed25519Pair() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  return { publicKey: hex(raw), sign: (m: Uint8Array) => hex(signEd25519(null, m, privateKey)) };
}

const ed = ed25519Pair();
const edKey = keyRecord("ed25519", ed.publicKey);
const edMessage = Buffer.from("pay 5 to bob");
const edOp = signOp(edMessage);
const edSig: ReportedSignature = { signature: ed.sign(edMessage), publicKey: ed.publicKey, epoch: EPOCH };

test("ed25519: a real signature by a signer at the operation's epoch is accepted", () => {
  accepted(edKey, edOp, edSig);
  accepted(edKey, signOp(edMessage, "m"), edSig);
});

test("ed25519: party not a signer, wrong epoch, other key", () => {
  refused(edKey, edOp, edSig, "bad-result-signer", 2);
  refused(edKey, edOp, { ...edSig, epoch: EPOCH - 1 }, "bad-result-epoch");
  const other = ed25519Pair();
  refused(
    edKey,
    edOp,
    { ...edSig, signature: other.sign(edMessage), publicKey: other.publicKey },
    "bad-result-key",
  );
});

test("ed25519: signature over another message, flipped bytes, signature by another key", () => {
  refused(
    edKey,
    edOp,
    { ...edSig, signature: ed.sign(Buffer.from("pay 500 to eve")) },
    "bad-result-signature",
  );
  refused(edKey, edOp, { ...edSig, signature: flip(edSig.signature, 5) }, "bad-result-signature");
  refused(edKey, edOp, { ...edSig, signature: flip(edSig.signature, 40) }, "bad-result-signature");
  refused(edKey, edOp, { ...edSig, signature: ed25519Pair().sign(edMessage) }, "bad-result-signature");
});

test("ed25519: strict RFC 8032 (s + L is refused) and malformed signatures refuse without throwing", () => {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const sig = Buffer.from(edSig.signature, "hex");
  const s = BigInt(`0x${hex(Buffer.from(sig.subarray(32)).reverse())}`) + L;
  const sPlusL = Buffer.from(s.toString(16).padStart(64, "0"), "hex").reverse();
  refused(
    edKey,
    edOp,
    { ...edSig, signature: hex(Buffer.concat([sig.subarray(0, 32), sPlusL])) },
    "bad-result-signature",
  );
  refused(edKey, edOp, { ...edSig, signature: "zz".repeat(64) }, "bad-result-signature");
  refused(edKey, edOp, { ...edSig, signature: edSig.signature.slice(0, 126) }, "bad-result-signature");
});

test("ed25519: a result carrying ECDSA fields is refused; a path cannot be signed", () => {
  refused(edKey, edOp, { ...edSig, der: "3006020101020101" }, "bad-result-signature");
  refused(edKey, edOp, { ...edSig, recoveryId: 0 }, "bad-result-signature");
  refused(edKey, signOp(edMessage, "m/0"), edSig, "bad-result-key");
});

// --- BIP340 --------------------------------------------------------------------------------------

// The root key has odd y, so deriving from the x-only key instead of the real point gives another child.
const bipSecret = secret("bip340 root", 3);
const bipDerivationKey = hex(ecc.pointFromScalar(bipSecret, true)!);
const bipKey = keyRecord("bip340", bipDerivationKey.slice(2), {
  derivationKey: bipDerivationKey,
  chainCode: hex(CHAIN_CODE),
});
const digest = createHash("sha256").update("a bitcoin sighash").digest();
const bipSig = (d: Uint8Array, m: Uint8Array): ReportedSignature => ({
  signature: hex(m.length === 32 ? ecc.signSchnorr(m, d) : schnorr.sign(m, d)),
  publicKey: hex(ecc.xOnlyPointFromScalar(d)),
  epoch: EPOCH,
});
const bipRoot = bipSig(bipSecret, digest);

test("bip340: real signatures at the root (32-byte and other-length messages) are accepted", () => {
  accepted(bipKey, signOp(digest), bipRoot);
  const short = Buffer.from("hello");
  accepted(bipKey, signOp(short), bipSig(bipSecret, short));
  accepted(bipKey, signOp(new Uint8Array(0)), bipSig(bipSecret, new Uint8Array(0)));
});

test("bip340: a signature under the derived child key (from the odd-y derivation key) is accepted", () => {
  const child = childSecret(bipSecret, PATH);
  const sig = bipSig(child, digest);
  assert.notEqual(sig.publicKey, bipRoot.publicKey);
  accepted(bipKey, signOp(digest, PATH), sig);
  const short = Buffer.from("hello");
  accepted(bipKey, signOp(short, PATH), bipSig(child, short));
});

test("bip340: the path binds the key: a root signature for a path, or a child signature without one, is refused", () => {
  refused(bipKey, signOp(digest, PATH), bipRoot, "bad-result-key");
  refused(bipKey, signOp(digest), bipSig(childSecret(bipSecret, PATH), digest), "bad-result-key");
  refused(bipKey, signOp(digest, "m/44/0/8"), bipSig(childSecret(bipSecret, PATH), digest), "bad-result-key");
});

test("bip340: a path on a key without a valid chain code or derivation key is refused", () => {
  const child = bipSig(childSecret(bipSecret, PATH), digest);
  refused({ ...bipKey, chainCode: undefined }, signOp(digest, PATH), child, "bad-result-key");
  refused(
    { ...bipKey, chainCode: bipKey.chainCode!.slice(2) },
    signOp(digest, PATH),
    child,
    "bad-result-key",
  );
  refused({ ...bipKey, derivationKey: undefined }, signOp(digest, PATH), child, "bad-result-key");
  const offCurve = `02${"00".repeat(31)}05`;
  assert.equal(ecc.isPoint(Buffer.from(offCurve, "hex")), false);
  refused({ ...bipKey, derivationKey: offCurve }, signOp(digest, PATH), child, "bad-result-key");
});

test("bip340: party not a signer, wrong epoch, other key", () => {
  refused(bipKey, signOp(digest), bipRoot, "bad-result-signer", 2);
  refused(bipKey, signOp(digest), { ...bipRoot, epoch: EPOCH + 1 }, "bad-result-epoch");
  refused(bipKey, signOp(digest), bipSig(secret("other", 2), digest), "bad-result-key");
});

test("bip340: signature over another message, flipped bytes, by another key, with ECDSA fields", () => {
  const op = signOp(digest);
  const otherDigest = createHash("sha256").update("another sighash").digest();
  refused(
    bipKey,
    op,
    { ...bipRoot, signature: bipSig(bipSecret, otherDigest).signature },
    "bad-result-signature",
  );
  refused(bipKey, op, { ...bipRoot, signature: flip(bipRoot.signature, 3) }, "bad-result-signature");
  refused(bipKey, op, { ...bipRoot, signature: flip(bipRoot.signature, 60) }, "bad-result-signature");
  refused(
    bipKey,
    op,
    { ...bipRoot, signature: bipSig(secret("other", 2), digest).signature },
    "bad-result-signature",
  );
  refused(bipKey, op, { ...bipRoot, recoveryId: 1 }, "bad-result-signature");
  const short = Buffer.from("hello");
  const shortSig = bipSig(bipSecret, short);
  refused(
    bipKey,
    signOp(short),
    { ...shortSig, signature: flip(shortSig.signature, 10) },
    "bad-result-signature",
  );
  refused(bipKey, signOp(Buffer.from("hellp")), shortSig, "bad-result-signature");
});

// --- BIP341 Taproot ------------------------------------------------------------------------------

/** The tagged TapTweak of x-only `x` and optional root, by node:crypto. */
function tapTweak(x: Uint8Array, root?: Uint8Array): Uint8Array {
  const tag = createHash("sha256").update("TapTweak").digest();
  return createHash("sha256")
    .update(tag)
    .update(tag)
    .update(x)
    .update(root ?? new Uint8Array())
    .digest();
}

/** The secret of the Taproot output key of secret `d`'s key: even-y `d` plus the tweak (libsecp256k1). */
function outputSecret(d: Uint8Array, root?: Uint8Array): Uint8Array {
  const even = ecc.pointFromScalar(d, true)![0] === 2 ? d : ecc.privateNegate(d);
  return ecc.privateAdd(even, tapTweak(ecc.xOnlyPointFromScalar(d), root))!;
}

const tapRoot = createHash("sha256").update("a script tree").digest();
const tapOp = (message: Uint8Array, path: string | undefined, merkleRoot?: Uint8Array) => {
  const base = signOp(message, path);
  const internal = hex(ecc.xOnlyPointFromScalar(path ? childSecret(bipSecret, path) : bipSecret));
  const taproot = taprootView(internal, merkleRoot && hex(merkleRoot))!;
  return { ...base, request: { ...base.request!, taproot } };
};

test("taprootView: BIP341 wallet test vectors (output key and bech32m address)", () => {
  // bitcoin/bips bip-0341/wallet-test-vectors.json, scriptPubKey: internalPubkey, merkleRoot,
  // tweakedPubkey, bip350Address.
  const vectors = [
    [
      "d6889cb081036e0faefa3a35157ad71086b123b2b144b649798b494c300a961d",
      undefined,
      "53a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343",
      "bc1p2wsldez5mud2yam29q22wgfh9439spgduvct83k3pm50fcxa5dps59h4z5",
    ],
    [
      "187791b6f712a8ea41c8ecdd0ee77fab3e85263b37e1ec18a3651926b3a6cf27",
      "5b75adecf53548f3ec6ad7d78383bf84cc57b55a3127c72b9a2481752dd88b21",
      "147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3",
      "bc1pz37fc4cn9ah8anwm4xqqhvxygjf9rjf2resrw8h8w4tmvcs0863sa2e586",
    ],
    [
      "93478e9488f956df2396be2ce6c5cced75f900dfa18e7dabd2428aae78451820",
      "c525714a7f49c28aedbbba78c005931a81c234b2f6c99a73e4d06082adc8bf2b",
      "e4d810fd50586274face62b8a807eb9719cef49c04177cc6b76a9a4251d5450e",
      "bc1punvppl2stp38f7kwv2u2spltjuvuaayuqsthe34hd2dyy5w4g58qqfuag5",
    ],
    [
      "55adf4e8967fbd2e29f20ac896e60c3b0f1d5b0efa9d34941b5958c7b0a0312d",
      "2f6b2c5397b6d68ca18e09a3f05161668ffe93a988582d55c6f07bd5b3329def",
      "75169f4001aa68f15bbed28b218df1d0a62cbbcf1188c6665110c293c907b831",
      "bc1pw5tf7sqp4f50zka7629jrr036znzew70zxyvvej3zrpf8jg8hqcssyuewe",
    ],
  ] as const;
  for (const [internalKey, merkleRoot, outputKey, address] of vectors)
    assert.deepEqual(taprootView(internalKey, merkleRoot), {
      internalKey,
      outputKey,
      ...(merkleRoot ? { merkleRoot } : {}),
      address,
    });
  const offCurve = `${"00".repeat(31)}05`;
  assert.equal(ecc.isXOnlyPoint(Buffer.from(offCurve, "hex")), false);
  assert.equal(taprootView(offCurve), undefined);
  assert.equal(taprootView(vectors[0][0].slice(2)), undefined);
  assert.equal(taprootView(vectors[0][0], "00"), undefined);
});

test("taproot: BIP86 at the root (odd-y key) and a script tree along a path are accepted under Q", () => {
  const bip86 = tapOp(digest, undefined);
  const q = bip86.request.taproot.outputKey;
  const sig = bipSig(outputSecret(bipSecret), digest);
  assert.equal(sig.publicKey, q);
  assert.notEqual(q, bipRoot.publicKey);
  accepted(bipKey, bip86, sig);
  const short = Buffer.from("a message that is not 32 bytes");
  accepted(bipKey, tapOp(short, undefined), bipSig(outputSecret(bipSecret), short));
  const child = childSecret(bipSecret, PATH);
  accepted(bipKey, tapOp(digest, PATH, tapRoot), bipSig(outputSecret(child, tapRoot), digest));
});

test("taproot: the option binds the key: internal key, other root, no tweak, tweak without request", () => {
  const q = bipSig(outputSecret(bipSecret), digest);
  refused(bipKey, tapOp(digest, undefined), bipRoot, "bad-result-key");
  refused(bipKey, tapOp(digest, undefined, tapRoot), q, "bad-result-key");
  refused(
    bipKey,
    tapOp(digest, undefined),
    bipSig(outputSecret(bipSecret, tapRoot), digest),
    "bad-result-key",
  );
  refused(bipKey, signOp(digest), q, "bad-result-key");
  refused(bipKey, tapOp(digest, PATH), q, "bad-result-key");
});

test("taproot: Q named but signed by the internal key or over another message is refused", () => {
  const op = tapOp(digest, undefined);
  const q = bipSig(outputSecret(bipSecret), digest);
  refused(bipKey, op, { ...q, signature: bipRoot.signature }, "bad-result-signature");
  const other = createHash("sha256").update("another sighash").digest();
  refused(
    bipKey,
    op,
    { ...q, signature: bipSig(outputSecret(bipSecret), other).signature },
    "bad-result-signature",
  );
  refused(bipKey, op, { ...q, signature: flip(q.signature, 40) }, "bad-result-signature");
});

test("taproot: on a non-bip340 key, or with a malformed root in the record, is refused", () => {
  const op = tapOp(edMessage, undefined);
  refused(
    edKey,
    { ...op, request: { ...op.request, message: hex(edMessage) } },
    edSig,
    "bad-result-operation",
  );
  const bad = tapOp(digest, undefined);
  bad.request.taproot = { ...bad.request.taproot, merkleRoot: "zz" };
  refused(bipKey, bad, bipSig(outputSecret(bipSecret), digest), "bad-result-key");
});

// --- ECDSA ---------------------------------------------------------------------------------------

// DKLs23 key records carry no derivation key: derivation starts from the public key itself.
const ecSecret = secret("ecdsa root", 3);
const ecKey = keyRecord("ecdsa-secp256k1", hex(ecc.pointFromScalar(ecSecret, true)!), {
  chainCode: hex(CHAIN_CODE),
});
const derOf = (compact: Uint8Array) => hex(secp256k1.Signature.fromBytes(compact, "compact").toBytes("der"));

function ecSig(d: Uint8Array, h: Uint8Array): ReportedSignature {
  const { signature, recoveryId } = ecc.signRecoverable(h, d);
  return {
    signature: hex(signature),
    publicKey: hex(ecc.pointFromScalar(d, true)!),
    epoch: EPOCH,
    recoveryId,
    der: derOf(signature),
  };
}
const ecRoot = ecSig(ecSecret, digest);

test("ecdsa: real signatures at the root and along a path are accepted (recovery id and DER optional)", () => {
  accepted(ecKey, signOp(digest), ecRoot);
  accepted(ecKey, signOp(digest), { ...ecRoot, recoveryId: undefined, der: undefined });
  const child = ecSig(childSecret(ecSecret, PATH), digest);
  assert.notEqual(child.publicKey, ecRoot.publicKey);
  accepted(ecKey, signOp(digest, PATH), child);
});

test("ecdsa: a result without a recovery id is accepted whatever the signature's recovery id", () => {
  // One digest of each recovery id (deterministic signatures: the search is fixed).
  for (const want of [0, 1]) {
    const d = [...Array(64).keys()]
      .map((i) => createHash("sha256").update(`recovery ${i}`).digest())
      .find((h) => ecc.signRecoverable(h, ecSecret).recoveryId === want)!;
    const sig = ecSig(ecSecret, d);
    assert.equal(sig.recoveryId, want);
    accepted(ecKey, signOp(d), { ...sig, recoveryId: undefined, der: undefined });
    refused(ecKey, signOp(d), { ...sig, recoveryId: want ^ 1 }, "bad-result-signature");
  }
});

test("ecdsa: the path binds the key", () => {
  refused(ecKey, signOp(digest, PATH), ecRoot, "bad-result-key");
  refused(ecKey, signOp(digest), ecSig(childSecret(ecSecret, PATH), digest), "bad-result-key");
  refused(
    { ...ecKey, chainCode: undefined },
    signOp(digest, PATH),
    ecSig(childSecret(ecSecret, PATH), digest),
    "bad-result-key",
  );
});

test("ecdsa: party not a signer, wrong epoch, other key", () => {
  refused(ecKey, signOp(digest), ecRoot, "bad-result-signer", 2);
  refused(ecKey, signOp(digest), { ...ecRoot, epoch: 0 }, "bad-result-epoch");
  refused(ecKey, signOp(digest), ecSig(secret("other", 3), digest), "bad-result-key");
});

test("ecdsa: signature over another digest, flipped bytes, by another key", () => {
  const op = signOp(digest);
  const bare = { ...ecRoot, recoveryId: undefined, der: undefined };
  const other = createHash("sha256").update("another digest").digest();
  refused(ecKey, op, { ...bare, signature: ecSig(ecSecret, other).signature }, "bad-result-signature");
  refused(ecKey, op, { ...bare, signature: flip(ecRoot.signature, 7) }, "bad-result-signature");
  refused(ecKey, op, { ...bare, signature: flip(ecRoot.signature, 50) }, "bad-result-signature");
  refused(
    ecKey,
    op,
    { ...bare, signature: ecSig(secret("other", 3), digest).signature },
    "bad-result-signature",
  );
});

test("ecdsa: a high-s signature is refused even with a consistent recovery id and DER", () => {
  const sig = Buffer.from(ecRoot.signature, "hex");
  const s = N - BigInt(`0x${hex(sig.subarray(32))}`);
  const high = Buffer.concat([sig.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, "0"), "hex")]);
  assert.equal(ecc.verify(digest, Buffer.from(ecRoot.publicKey, "hex"), high), true, "valid but for low-s");
  const recoveryId = (ecRoot.recoveryId! ^ 1) as 0 | 1;
  assert.equal(hex(ecc.recover(digest, high, recoveryId, true)!), ecRoot.publicKey);
  refused(
    ecKey,
    signOp(digest),
    { ...ecRoot, signature: hex(high), recoveryId, der: derOf(high) },
    "bad-result-signature",
  );
});

test("ecdsa: a recovery id that does not recover the key is refused", () => {
  refused(ecKey, signOp(digest), { ...ecRoot, recoveryId: ecRoot.recoveryId! ^ 1 }, "bad-result-signature");
  refused(ecKey, signOp(digest), { ...ecRoot, recoveryId: 4 }, "bad-result-signature");
});

test("ecdsa: a DER that is not the compact signature's is refused", () => {
  const another = ecc.sign(digest, ecSecret, createHash("sha256").update("entropy").digest());
  assert.notEqual(hex(another), ecRoot.signature);
  refused(ecKey, signOp(digest), { ...ecRoot, der: derOf(another) }, "bad-result-signature");
  refused(ecKey, signOp(digest), { ...ecRoot, der: `${ecRoot.der}00` }, "bad-result-signature");
  refused(ecKey, signOp(digest), { ...ecRoot, der: "" }, "bad-result-signature");
});

// --- The operation itself ------------------------------------------------------------------------

test("a result for something other than a signing of this key is refused", () => {
  refused(ecKey, signOp(digest, undefined, { type: "dkg" }), ecRoot, "bad-result-operation");
  refused(ecKey, signOp(digest, undefined, { keyId: "key_2" }), ecRoot, "bad-result-operation");
  refused(ecKey, signOp(digest, undefined, { request: undefined }), ecRoot, "bad-result-operation");
  refused({ ...ecKey, scheme: "rsa" }, signOp(digest), ecRoot, "bad-result-operation");
  refused(ecKey, signOp(digest, "m/44'"), ecRoot, "bad-result-operation");
  refused(ecKey, signOp(digest.subarray(0, 31)), ecRoot, "bad-result-operation");
  refused({ ...ecKey, publicKey: undefined }, signOp(digest), ecRoot, "bad-result-key");
});

test("malformed signatures and key records are refused, never thrown", () => {
  const rs = (r: string, s: string) => `${r.repeat(32)}${s.repeat(32)}`;
  for (const signature of [rs("ff", "01"), rs("01", "ff"), rs("00", "00")]) {
    refused(bipKey, signOp(digest), { ...bipRoot, signature }, "bad-result-signature");
    refused(bipKey, signOp(edMessage), { ...bipRoot, signature }, "bad-result-signature");
    refused(
      ecKey,
      signOp(digest),
      { ...ecRoot, signature, recoveryId: undefined, der: undefined },
      "bad-result-signature",
    );
    refused(ecKey, signOp(digest), { ...ecRoot, signature, der: undefined }, "bad-result-signature");
    refused(ecKey, signOp(digest), { ...ecRoot, signature, recoveryId: undefined }, "bad-result-signature");
  }
  refused(ecKey, signOp(digest), { ...ecRoot, signature: ecRoot.signature.slice(2) }, "bad-result-signature");
  const notAPoint = `02${"00".repeat(31)}05`;
  const bare = { ...ecRoot, publicKey: notAPoint, recoveryId: undefined, der: undefined };
  refused({ ...ecKey, publicKey: notAPoint }, signOp(digest), bare, "bad-result-signature");
  for (const badEd of ["ff".repeat(32), ed.publicKey.slice(2)])
    refused({ ...edKey, publicKey: badEd }, edOp, { ...edSig, publicKey: badEd }, "bad-result-signature");
  refused(
    { ...bipKey, publicKey: "00".repeat(32) },
    signOp(digest),
    { ...bipRoot, publicKey: "00".repeat(32) },
    "bad-result-signature",
  );
});
