/**
 * What the signer adapters check before they hand anything to a chain library: the key suits the
 * adapter, and every signature the API returns is well formed and verifies under the expected
 * public key (libsecp256k1-compatible checks from @noble/curves; Ed25519 strictly per RFC 8032).
 * Internal to the SDK.
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { HDKey } from "@scure/bip32";
import { SignerError, type SignerErrorCode } from "./errors.js";
import type { Key, Signature } from "./types.js";

/**
 * Bytes of a hex string of `length` bytes. @throws SignerError `code` when malformed (`bad-signature`,
 * the default, for a signature the API returned)
 */
export function hexBytes(
  hex: unknown,
  length: number,
  what: string,
  code: SignerErrorCode = "bad-signature",
): Uint8Array {
  if (typeof hex !== "string" || hex.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new SignerError(code, `${what} is not ${length} bytes of hex`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** Lower-case hex of bytes. */
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The key, checked to be active and of `scheme`. @throws SignerError `unsuitable-key` */
export function suitableKey(key: Key, scheme: string): Key & { publicKey: string } {
  if (key.scheme !== scheme)
    throw new SignerError("unsuitable-key", `key ${key.id} is ${key.scheme}, this signer needs ${scheme}`);
  if (key.status !== "active" || !key.publicKey)
    throw new SignerError("unsuitable-key", `key ${key.id} is not active`);
  return key as Key & { publicKey: string };
}

/**
 * The compressed secp256k1 public key at `path` (none: the root key), derived from the key's xpub
 * like any wallet does. @throws SignerError `unsuitable-key` without an xpub, `unsupported` for a bad path
 */
export function secp256k1PublicKey(key: Key & { publicKey: string }, path?: string): Uint8Array {
  if (path === undefined) {
    if (key.scheme === "bip340")
      return Uint8Array.from([2, ...hexBytes(key.publicKey, 32, "public key", "unsuitable-key")]);
    return hexBytes(key.publicKey, 33, "public key", "unsuitable-key");
  }
  if (!key.xpub) throw new SignerError("unsuitable-key", `key ${key.id} has no xpub to derive ${path} from`);
  let child: Uint8Array | null;
  try {
    child = HDKey.fromExtendedKey(key.xpub).derive(path).publicKey;
  } catch (e) {
    throw new SignerError("unsupported", `cannot derive ${path}: ${e instanceof Error ? e.message : e}`);
  }
  if (!child) throw new SignerError("unsupported", `cannot derive ${path}`);
  return child;
}

function samePublicKey(sig: Signature, expected: Uint8Array) {
  if (sig.publicKey.toLowerCase() !== toHex(expected))
    throw new SignerError("bad-signature", "the API signed with another public key than expected");
}

/** An ECDSA signature's parts, checked: r‖s (low s), recovery id 0 or 1. */
export interface EcdsaParts {
  readonly compact: Uint8Array;
  readonly r: bigint;
  readonly s: bigint;
  readonly recovery: 0 | 1;
}

/**
 * Checks an ECDSA signature of the 32-byte `digest`: low s, and its recovery id recovers exactly
 * `publicKey` (so it also verifies). @throws SignerError `bad-signature`
 */
export function checkEcdsa(sig: Signature, digest: Uint8Array, publicKey: Uint8Array): EcdsaParts {
  samePublicKey(sig, publicKey);
  const compact = hexBytes(sig.signature, 64, "signature");
  if (sig.recoveryId !== 0 && sig.recoveryId !== 1)
    throw new SignerError("bad-signature", `unusable recovery id ${sig.recoveryId}`);
  let recovered: string;
  let parsed: ReturnType<typeof secp256k1.Signature.fromBytes>;
  try {
    parsed = secp256k1.Signature.fromBytes(compact, "compact");
    recovered = parsed.addRecoveryBit(sig.recoveryId).recoverPublicKey(digest).toHex(true);
  } catch {
    throw new SignerError("bad-signature", "the signature does not recover a public key");
  }
  if (parsed.hasHighS()) throw new SignerError("bad-signature", "the signature has a high s");
  if (recovered !== toHex(publicKey))
    throw new SignerError("bad-signature", "the signature does not verify under the key");
  return { compact, r: parsed.r, s: parsed.s, recovery: sig.recoveryId };
}

/** Checks a BIP340 signature of the 32-byte `message` under the x-only `publicKey`. @throws SignerError */
export function checkSchnorr(sig: Signature, message: Uint8Array, publicKey: Uint8Array): Uint8Array {
  samePublicKey(sig, publicKey);
  const bytes = hexBytes(sig.signature, 64, "signature");
  if (!schnorr.verify(bytes, message, publicKey))
    throw new SignerError("bad-signature", "the signature does not verify under the key");
  return bytes;
}

/** Checks an Ed25519 signature of `message` under `publicKey` (RFC 8032, not ZIP 215). @throws SignerError */
export function checkEd25519(sig: Signature, message: Uint8Array, publicKey: Uint8Array): Uint8Array {
  samePublicKey(sig, publicKey);
  const bytes = hexBytes(sig.signature, 64, "signature");
  if (!ed25519.verify(bytes, message, publicKey, { zip215: false }))
    throw new SignerError("bad-signature", "the signature does not verify under the key");
  return bytes;
}
