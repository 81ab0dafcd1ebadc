/** Independent signature checks: node:crypto (OpenSSL), tiny-secp256k1 (libsecp256k1 WASM), noble recovery. */
import assert from "node:assert/strict";
import { createHash, createHmac, createPublicKey, verify } from "node:crypto";
import type { SignatureOutput } from "@custody/core";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import * as ecc from "tiny-secp256k1";

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** Verifies `sig` over SHA-256(`message`) under `publicKey` with three independent verifiers. */
export function verifyIndependently(sig: SignatureOutput, message: Uint8Array, publicKey: Uint8Array): void {
  const digest = createHash("sha256").update(message).digest();
  assert.deepEqual(Buffer.from(sig.publicKey), Buffer.from(publicKey));
  // OpenSSL via node:crypto: verifies the message itself (hashing inside) against the DER signature.
  const unc = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  const key = createPublicKey({
    key: { kty: "EC", crv: "secp256k1", x: b64u(unc.subarray(1, 33)), y: b64u(unc.subarray(33)) },
    format: "jwk",
  });
  assert.ok(verify("sha256", message, key, Buffer.from(sig.der!)), "node:crypto verify");
  // libsecp256k1 (WASM), strict: rejects high-s.
  assert.ok(ecc.verify(digest, publicKey, sig.signature, true), "tiny-secp256k1 strict verify");
  // Low-s and public key recovery from (r, s, recid).
  const s = BigInt(`0x${Buffer.from(sig.signature.subarray(32)).toString("hex")}`);
  assert.ok(s <= secp256k1.Point.Fn.ORDER >> 1n, "low s");
  const rec = secp256k1.Signature.fromBytes(sig.signature, "compact")
    .addRecoveryBit(sig.recoveryId!)
    .recoverPublicKey(digest)
    .toBytes(true);
  assert.deepEqual(Buffer.from(rec), Buffer.from(publicKey));
}

/** Independent BIP32 public derivation with node:crypto HMAC and tiny-secp256k1 point addition. */
export function childKey(publicKey: Uint8Array, chainCode: Uint8Array, path: number[]): Uint8Array {
  let K = Buffer.from(publicKey);
  let c = Buffer.from(chainCode);
  for (const i of path) {
    const ser = Buffer.alloc(4);
    ser.writeUInt32BE(i);
    const I = createHmac("sha512", c)
      .update(Buffer.concat([K, ser]))
      .digest();
    const next = ecc.pointAddScalar(K, I.subarray(0, 32), true);
    assert.ok(next);
    K = Buffer.from(next);
    c = I.subarray(32);
  }
  return K;
}
