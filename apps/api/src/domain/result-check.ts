/**
 * The API's own check of a party's signature result before it becomes an operation's outcome. A
 * party (or whoever forges its results) is not trusted: the result must come from one of the
 * operation's signers, be made at the operation's epoch, name the key the operation signs with
 * (the BIP32 child along the request's path, derived here from the key record, or for a Taproot
 * request the BIP341 output key of that key, tweaked here by libsecp256k1), and verify over
 * the requested message under that key with a verifier independent of the parties' code:
 * Ed25519 by OpenSSL (`node:crypto`, RFC 8032), BIP340 and ECDSA by libsecp256k1
 * (`tiny-secp256k1`; ECDSA strict low-s, with the recovery id and DER checked against the compact
 * signature). BIP340 messages that are not 32 bytes, which libsecp256k1's binding cannot take, are
 * verified with `@noble/curves`' BIP340 verifier.
 * @module
 */
import { createPublicKey, verify as verifyOpenSsl } from "node:crypto";
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { HDKey } from "@scure/bip32";
import * as ecc from "tiny-secp256k1";
import { parsePath } from "./paths.js";
import type { KeyIdentity, OperationRecord, SignatureOutcome, SignItemRecord } from "./records.js";
import { taprootView } from "./taproot.js";

/** Why a party's signature result is refused. */
export type ResultCheckCode =
  /** The operation cannot take a signature result (not a sign operation of this key). */
  | "bad-result-operation"
  /** The reporting party is not one of the operation's signers. */
  | "bad-result-signer"
  /** The result names another epoch than the operation's. */
  | "bad-result-epoch"
  /** The result names another public key than the (derived) key of the operation. */
  | "bad-result-key"
  /** The signature, its recovery id or its DER encoding does not check. */
  | "bad-result-signature"
  /** A batch result holds another number of signatures than the operation has messages. */
  | "bad-result-count";

/** Outcome of {@link checkSignatureResult}: the key the signature verified under, or a typed refusal. */
export type ResultCheck = { ok: true; publicKey: string } | Refusal;

/** A typed refusal of a party's result. */
export type Refusal = { ok: false; code: ResultCheckCode; message: string };

/** What a party reports for a signature (hex fields, as stored in a {@link SignatureOutcome}). */
export type ReportedSignature = Pick<
  SignatureOutcome,
  "signature" | "publicKey" | "epoch" | "recoveryId" | "der"
>;

const refuse = (code: ResultCheckCode, message: string): Refusal => ({ ok: false, code, message });
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const bytes = (h: string): Uint8Array | undefined => (HEX.test(h) ? Buffer.from(h, "hex") : undefined);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * The public key (hex, in the scheme's encoding) `key` signs with along `path` (before any Taproot
 * tweak): the key's own key for the empty path, else the BIP32 non-hardened child of the key's derivation key
 * (33-byte compressed with its real y parity; for ECDSA the public key itself) and chain code,
 * x-only for BIP340. A string is the reason none exists.
 */
function signingKeyOf(key: KeyIdentity, path: readonly number[]): { hex: string } | string {
  if (key.publicKey === undefined) return "the key has no public key";
  if (path.length === 0) return { hex: key.publicKey };
  // ECDSA records derive from the public key itself. HDKey refuses a missing or malformed chain code
  // and anything but a secp256k1 point, so a 32-byte (Ed25519 or x-only BIP340) key never derives.
  const publicKey = bytes(key.derivationKey ?? key.publicKey);
  const chainCode = key.chainCode === undefined ? undefined : bytes(key.chainCode);
  let node: HDKey;
  try {
    node = new HDKey({ publicKey, chainCode });
    for (const i of path) node = node.deriveChild(i);
  } catch {
    return "the key has no derivation key and chain code this path derives from";
  }
  const child = node.publicKey!;
  return { hex: hex(key.scheme === "bip340" ? child.subarray(1) : child) };
}

/** The signing key along a path (see {@link signingKeyOf}), or why there is none. */
export type SigningKeys = (path: readonly number[]) => { hex: string } | string;

/**
 * {@link signingKeyOf} for `key`, memoised by path: one request derives each distinct path once,
 * however many of its items repeat it.
 */
export function signingKeysOf(key: KeyIdentity): SigningKeys {
  const memo = new Map<string, { hex: string } | string>();
  return (path) => {
    const id = path.join("/");
    let k = memo.get(id);
    if (k === undefined) {
      k = signingKeyOf(key, path);
      memo.set(id, k);
    }
    return k;
  };
}

/** Ed25519 (RFC 8032) by OpenSSL; false for any malformed input. */
function verifyEd25519(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    const x = Buffer.from(publicKey).toString("base64url");
    const k = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
    return verifyOpenSsl(null, message, k, sig);
  } catch {
    return false;
  }
}

/** BIP340 by libsecp256k1 (32-byte messages) or noble (other lengths); false for malformed input. */
function verifyBip340(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return message.length === 32
      ? ecc.verifySchnorr(message, publicKey, sig)
      : schnorr.verify(sig, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * ECDSA by libsecp256k1 over the 32-byte digest, strict low-s; a reported recovery id must recover
 * the key and a reported DER must be the DER encoding of the compact signature. Returns the
 * failure, or undefined.
 */
function checkEcdsa(
  sig: Uint8Array,
  digest: Uint8Array,
  publicKey: Uint8Array,
  r: ReportedSignature,
): string | undefined {
  try {
    if (!ecc.verify(digest, publicKey, sig, true)) return "the signature does not verify (or is high-s)";
    if (r.recoveryId !== undefined) {
      // `recover` throws for an id outside 0..3.
      const recovered = ecc.recover(digest, sig, r.recoveryId as ecc.RecoveryIdType, true);
      if (recovered === null || hex(recovered) !== hex(publicKey))
        return "the recovery id does not recover the key";
    }
    if (r.der !== undefined) {
      const der = hex(secp256k1.Signature.fromBytes(sig, "compact").toBytes("der"));
      if (r.der !== der) return "the DER encoding is not that of the signature";
    }
    return undefined;
  } catch {
    return "the signature is malformed";
  }
}

/** What one signature of an operation must be over: a message, its path, its Taproot output. */
type SignTarget = Pick<SignItemRecord, "message" | "path" | "taproot">;

/** The operation's own checks before any signature: a signing of this key, by one of its signers. */
function checkOperation(key: KeyIdentity, op: OperationRecord, party: number): Refusal | undefined {
  if (op.type !== "sign" || op.request === undefined || op.keyId !== key.id)
    return refuse("bad-result-operation", "the operation is not a signing of this key");
  if (!op.participants.includes(party))
    return refuse("bad-result-signer", `party ${party} is not a signer of this operation`);
  return undefined;
}

/**
 * Checks party `party`'s signature result for sign operation `op` on `key` before it may become
 * the operation's result: the party is one of `op.participants`, the epoch is `op.request.epoch`,
 * the reported public key is the key the operation signs with (derived along `op.request.path`
 * when there is one; for a Taproot request the output key of that key committing to
 * `op.request.taproot.merkleRoot`), and the signature verifies over `op.request.message` under that key with an
 * independent verifier (see the module doc). A batch operation takes only a batch result
 * ({@link checkBatchResult}). Pure; never throws.
 * Hex fields are compared as the aggregator writes them (lower case).
 * @returns `{ ok: true, publicKey }` with the hex key it verified under, or a typed refusal
 */
export function checkSignatureResult(
  key: KeyIdentity,
  op: OperationRecord,
  party: number,
  sig: ReportedSignature,
): ResultCheck {
  const refused = checkOperation(key, op, party);
  if (refused) return refused;
  const req = op.request!;
  if (req.items !== undefined)
    return refuse("bad-result-operation", "a signing batch takes every signature of the batch");
  return checkSignature(key, req, req.epoch, sig, signingKeysOf(key));
}

/** Outcome of {@link checkBatchResult}: the key each signature verified under, or the first refusal. */
export type BatchResultCheck = { ok: true; publicKeys: string[] } | Refusal;

/**
 * Checks party `party`'s result for signing batch `op` on `key`: one signature per item of
 * `op.request.items`, in order, each passing exactly the checks {@link checkSignatureResult} makes
 * of a single signature against its own item (message, path, Taproot output). One failing
 * signature refuses the whole result. Pure; never throws.
 */
export function checkBatchResult(
  key: KeyIdentity,
  op: OperationRecord,
  party: number,
  sigs: readonly ReportedSignature[],
): BatchResultCheck {
  const refused = checkOperation(key, op, party);
  if (refused) return refused;
  const req = op.request!;
  if (req.items === undefined) return refuse("bad-result-operation", "the operation signs one message");
  if (sigs.length !== req.items.length)
    return refuse(
      "bad-result-count",
      `${sigs.length} signatures for a batch of ${req.items.length} messages`,
    );
  const keys = signingKeysOf(key);
  const publicKeys: string[] = [];
  for (let i = 0; i < sigs.length; i++) {
    const r = checkSignature(key, req.items[i]!, req.epoch, sigs[i]!, keys);
    if (!r.ok) return { ...r, message: `signature ${i}: ${r.message}` };
    publicKeys.push(r.publicKey);
  }
  return { ok: true, publicKeys };
}

/**
 * One signature against its target: epoch, key (derived, Taproot-tweaked) and an independent
 * verification. `keys` gives the signing key per path, memoised across the calls of one batch.
 */
function checkSignature(
  key: KeyIdentity,
  target: SignTarget,
  epoch: number,
  sig: ReportedSignature,
  keys: SigningKeys,
): ResultCheck {
  if (sig.epoch !== epoch)
    return refuse("bad-result-epoch", `result for epoch ${sig.epoch}, the operation signs at epoch ${epoch}`);
  const path = target.path === undefined ? [] : parsePath(target.path);
  const message = bytes(target.message);
  if (typeof path === "string" || message === undefined)
    return refuse("bad-result-operation", "the operation's message or path is malformed");
  const signing = keys(path);
  if (typeof signing === "string") return refuse("bad-result-key", signing);
  let expected = signing;
  if (target.taproot !== undefined) {
    if (key.scheme !== "bip340")
      return refuse("bad-result-operation", "only bip340 keys sign for Taproot output keys");
    const output = taprootView(signing.hex, target.taproot.merkleRoot);
    if (output === undefined) return refuse("bad-result-key", "the key has no Taproot output key");
    expected = { hex: output.outputKey };
  }
  if (sig.publicKey !== expected.hex)
    return refuse("bad-result-key", "the result names another public key than the operation's key");
  const s = bytes(sig.signature);
  if (s === undefined) return refuse("bad-result-signature", "the signature is not hex");
  const pk = Buffer.from(expected.hex, "hex");
  let failure: string | undefined;
  switch (key.scheme) {
    case "ed25519":
    case "bip340": {
      const verify = key.scheme === "ed25519" ? verifyEd25519 : verifyBip340;
      if (sig.recoveryId !== undefined || sig.der !== undefined)
        failure = "only ECDSA results carry a recovery id or DER";
      else if (!verify(s, message, pk)) failure = "the signature does not verify";
      break;
    }
    case "ecdsa-secp256k1":
      if (message.length !== 32) return refuse("bad-result-operation", "ECDSA signs a 32-byte digest");
      failure = checkEcdsa(s, message, pk, sig);
      break;
    default:
      return refuse("bad-result-operation", `unknown scheme ${key.scheme}`);
  }
  return failure === undefined
    ? { ok: true, publicKey: expected.hex }
    : refuse("bad-result-signature", failure);
}
