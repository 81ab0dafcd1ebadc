/**
 * The API's webhook signing key (Ed25519, no shared secret) and the bytes it signs. A delivery's
 * signature covers the framed (domain `custody/webhook/v1`) webhook id, delivery id, timestamp
 * header and body, each length-prefixed (see `frame` of @custody/core), so no field can be moved
 * into another. Receivers verify with the public key from `GET /v1/webhooks/signing-key`.
 * @module
 */
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { frame } from "@custody/core";
import { ed25519 } from "@noble/curves/ed25519.js";

/** Domain tag of webhook signatures. */
export const WEBHOOK_SIGNATURE_DOMAIN = "custody/webhook/v1";

/** The exact bytes a webhook signature covers. */
export function webhookSigningBytes(
  webhookId: string,
  deliveryId: string,
  timestamp: string,
  body: Uint8Array,
): Uint8Array {
  return frame(WEBHOOK_SIGNATURE_DOMAIN, [webhookId, deliveryId, timestamp, body]);
}

/** A refused signing-key file (the message never contains key material). */
export class WebhookKeyError extends Error {
  override readonly name = "WebhookKeyError";
}

/** Signs webhook deliveries. */
export class WebhookSigner {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;

  private constructor(private readonly seed: Uint8Array) {
    this.publicKey = ed25519.getPublicKey(seed);
  }

  /**
   * Reads a key file: the 32-byte Ed25519 seed as 64 hex digits (surrounding whitespace ignored).
   * @throws WebhookKeyError for any other content
   */
  static fromFile(file: string): WebhookSigner {
    const text = readFileSync(file, "utf8").trim();
    if (!/^[0-9a-fA-F]{64}$/.test(text))
      throw new WebhookKeyError(`${file} does not hold a 32-byte Ed25519 seed as 64 hex digits`);
    return new WebhookSigner(new Uint8Array(Buffer.from(text, "hex")));
  }

  /** The public key as SPKI PEM (what node:crypto `createPublicKey` takes). */
  get publicKeyPem(): string {
    return createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(this.publicKey).toString("base64url") },
      format: "jwk",
    })
      .export({ type: "spki", format: "pem" })
      .toString();
  }

  /** The base64url signature of one delivery attempt. */
  sign(webhookId: string, deliveryId: string, timestamp: string, body: Uint8Array): string {
    const sig = ed25519.sign(webhookSigningBytes(webhookId, deliveryId, timestamp, body), this.seed);
    return Buffer.from(sig).toString("base64url");
  }
}
