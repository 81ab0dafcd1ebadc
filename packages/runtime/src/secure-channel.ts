/**
 * End-to-end protection of one session's protocol messages.
 *
 * - Authenticity: every Join and every Envelope is signed with the sender's long-term Ed25519 party
 *   key over a domain-separated, length-prefixed encoding of session id, round, sender, receiver and
 *   payload, so a recorded message cannot be replayed into another session, round or sender slot.
 *   Verification is strict RFC 8032 (`verifyEd25519` of @custody/credentials).
 * - Confidentiality: each attempt uses a fresh ephemeral X25519 key (announced in the signed Join).
 *   Point-to-point payloads are sealed with ChaCha20-Poly1305 under a key derived per ordered pair
 *   (HKDF-SHA256 over the X25519 secret, salted with the session id), so each direction has its own
 *   key and keys never outlive the session (forward secrecy). The nonce is the round number: one
 *   message per round and direction, and a resend repeats the same ciphertext.
 *
 * Every primitive runs in node:crypto (OpenSSL); @noble/curves only validates public keys once and
 * settles the rare signature OpenSSL refuses.
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { frame } from "@custody/core";
import { verifyEd25519 } from "@custody/credentials";
import type { PartyDirectory, PartyIdentity } from "./party-identity.js";

/** What a Join signature covers. */
export function joinSigningBytes(
  operationId: string,
  party: number,
  nonce: Uint8Array,
  kxPublic: Uint8Array,
): Uint8Array {
  return frame("custody/join/v1", [operationId, party, nonce, kxPublic]);
}

/** What an Envelope signature covers. */
export function envelopeSigningBytes(
  sessionId: Uint8Array,
  round: number,
  from: number,
  to: number,
  encrypted: boolean,
  payload: Uint8Array,
): Uint8Array {
  return frame("custody/envelope/v1", [sessionId, round, from, to, encrypted ? 1 : 0, payload]);
}

const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const b64 = (raw: Uint8Array) => Buffer.from(raw).toString("base64url");
const unb64 = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? "", "base64url"));
/** A raw public key as an OpenSSL key (JWK import: several times cheaper than DER decoding). */
const publicKeyOf = (crv: "Ed25519" | "X25519", raw: Uint8Array) =>
  createPublicKey({ key: { kty: "OKP", crv, x: b64(raw) }, format: "jwk" });

/** OpenSSL signing keys of the party identities in use (one import per identity object). */
const signingKeys = new WeakMap<PartyIdentity, KeyObject>();

/** Signs with a party identity (Ed25519, RFC 8032; deterministic, so the same bytes as any signer). */
export function signAs(identity: PartyIdentity, bytes: Uint8Array): Uint8Array {
  let key = signingKeys.get(identity);
  if (!key) {
    const jwk = { kty: "OKP", crv: "Ed25519", d: b64(identity.secretKey), x: b64(identity.publicKey) };
    key = createPrivateKey({ key: jwk, format: "jwk" });
    signingKeys.set(identity, key);
  }
  return new Uint8Array(sign(null, bytes, key));
}

/** Verifies a signature of `party` against the directory; false for unknown parties or bad signatures. */
export function verifyFrom(
  directory: PartyDirectory,
  party: number,
  bytes: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = directory.get(party);
  return key !== undefined && verifyEd25519(key, bytes, signature);
}

/** OpenSSL keys of the ephemeral secrets this process made, so a session does not re-import its own. */
const ephemeralKeys = new WeakMap<Uint8Array, KeyObject>();

/** A fresh ephemeral X25519 key pair for one attempt. */
export function ephemeralKeyPair(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync("x25519");
  const jwk = privateKey.export({ format: "jwk" });
  const secretKey = unb64(jwk.d);
  ephemeralKeys.set(secretKey, privateKey);
  return { secretKey, publicKey: unb64(jwk.x) };
}

/** RFC 7748 X25519 with OpenSSL; throws when the shared secret is all zero (a low-order peer key). */
function x25519Shared(secret: Uint8Array, peer: Uint8Array): Uint8Array {
  const privateKey =
    ephemeralKeys.get(secret) ??
    createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: "der", type: "pkcs8" });
  return new Uint8Array(diffieHellman({ privateKey, publicKey: publicKeyOf("X25519", peer) }));
}

const TAG_BYTES = 16;
const nonceOf = (round: number) => {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(0, round);
  return n;
};

/** Pairwise encryption keys of one session, one per direction. */
export class SessionCipher {
  private readonly send = new Map<number, Uint8Array>();
  private readonly receive = new Map<number, Uint8Array>();

  /**
   * @param self this party
   * @param ephemeralSecret this attempt's X25519 secret
   * @param peers each peer's verified ephemeral X25519 public key
   * @param sessionId the agreed session id (HKDF salt)
   */
  constructor(
    private readonly self: number,
    ephemeralSecret: Uint8Array,
    peers: ReadonlyMap<number, Uint8Array>,
    private readonly sessionId: Uint8Array,
  ) {
    for (const [peer, pub] of peers) {
      let shared: Uint8Array;
      try {
        shared = x25519Shared(ephemeralSecret, pub);
      } catch {
        shared = new Uint8Array(32);
      }
      if (shared.every((b) => b === 0)) throw new Error(`party ${peer} sent a low-order X25519 key`);
      const derive = (from: number, to: number) =>
        new Uint8Array(hkdfSync("sha256", shared, sessionId, frame("custody/p2p-key/v1", [from, to]), 32));
      this.send.set(peer, derive(self, peer));
      this.receive.set(peer, derive(peer, self));
    }
  }

  /** Encrypts a payload for `to` in `round`. */
  seal(to: number, round: number, payload: Uint8Array): Uint8Array {
    const key = this.send.get(to);
    if (!key) throw new Error(`no channel to party ${to}`);
    const c = createCipheriv("chacha20-poly1305", key, nonceOf(round), { authTagLength: TAG_BYTES });
    c.setAAD(this.ad(this.self, to, round), { plaintextLength: payload.length });
    return new Uint8Array(Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]));
  }

  /** Decrypts a payload from `from` in `round`; throws on any tampering. */
  open(from: number, round: number, ciphertext: Uint8Array): Uint8Array {
    const key = this.receive.get(from);
    if (!key) throw new Error(`no channel from party ${from}`);
    if (ciphertext.length < TAG_BYTES) throw new Error("ciphertext too short");
    const body = ciphertext.subarray(0, ciphertext.length - TAG_BYTES);
    const d = createDecipheriv("chacha20-poly1305", key, nonceOf(round), { authTagLength: TAG_BYTES });
    d.setAAD(this.ad(from, this.self, round), { plaintextLength: body.length });
    d.setAuthTag(ciphertext.subarray(body.length));
    return new Uint8Array(Buffer.concat([d.update(body), d.final()]));
  }

  private ad(from: number, to: number, round: number): Uint8Array {
    return frame("custody/p2p-ad/v1", [this.sessionId, from, to, round]);
  }
}
