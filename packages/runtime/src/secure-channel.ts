/**
 * End-to-end protection of one session's protocol messages.
 *
 * - Authenticity: every Join and every Envelope is signed with the sender's long-term Ed25519 party
 *   key over a domain-separated, length-prefixed encoding of session id, round, sender, receiver and
 *   payload, so a recorded message cannot be replayed into another session, round or sender slot.
 * - Confidentiality: each attempt uses a fresh ephemeral X25519 key (announced in the signed Join).
 *   Point-to-point payloads are sealed with ChaCha20-Poly1305 under a key derived per ordered pair
 *   (HKDF-SHA256 over the X25519 secret, salted with the session id), so each direction has its own
 *   key and keys never outlive the session (forward secrecy). The nonce is the round number: one
 *   message per round and direction, and a resend repeats the same ciphertext.
 * @module
 */
import { frame } from "@custody/core";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
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

/** Signs with a party identity. */
export function signAs(identity: PartyIdentity, bytes: Uint8Array): Uint8Array {
  return ed25519.sign(bytes, identity.secretKey);
}

/** Verifies a signature of `party` against the directory; false for unknown parties or bad signatures. */
export function verifyFrom(
  directory: PartyDirectory,
  party: number,
  bytes: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = directory.get(party);
  if (!key || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, bytes, key, { zip215: false });
  } catch {
    return false;
  }
}

/** A fresh ephemeral X25519 key pair for one attempt. */
export function ephemeralKeyPair(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const { secretKey, publicKey } = x25519.keygen();
  return { secretKey, publicKey };
}

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
      const shared = x25519.getSharedSecret(ephemeralSecret, pub);
      if (shared.every((b) => b === 0)) throw new Error(`party ${peer} sent a low-order X25519 key`);
      const derive = (from: number, to: number) =>
        hkdf(sha256, shared, sessionId, frame("custody/p2p-key/v1", [from, to]), 32);
      this.send.set(peer, derive(self, peer));
      this.receive.set(peer, derive(peer, self));
    }
  }

  /** Encrypts a payload for `to` in `round`. */
  seal(to: number, round: number, payload: Uint8Array): Uint8Array {
    const key = this.send.get(to);
    if (!key) throw new Error(`no channel to party ${to}`);
    return chacha20poly1305(key, nonceOf(round), this.ad(this.self, to, round)).encrypt(payload);
  }

  /** Decrypts a payload from `from` in `round`; throws on any tampering. */
  open(from: number, round: number, ciphertext: Uint8Array): Uint8Array {
    const key = this.receive.get(from);
    if (!key) throw new Error(`no channel from party ${from}`);
    return chacha20poly1305(key, nonceOf(round), this.ad(from, this.self, round)).decrypt(ciphertext);
  }

  private ad(from: number, to: number, round: number): Uint8Array {
    return frame("custody/p2p-ad/v1", [this.sessionId, from, to, round]);
  }
}
