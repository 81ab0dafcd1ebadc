/**
 * Long-term party identities for end-to-end protected protocol messages. Each party has an Ed25519
 * key pair (shared by its workers, kept in a 0600 file); every party's public key is listed in the
 * party directory, which all workers trust. The broker sees only signed (and, point to point,
 * encrypted) envelopes: a compromised broker can drop messages but not forge or read them.
 * @module
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

/** A party's signing identity. */
export interface PartyIdentity {
  readonly party: number;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Public identity keys of every party, by party index. */
export type PartyDirectory = ReadonlyMap<number, Uint8Array>;

/** Creates a party identity file (hex secret key, mode 0600) and returns the identity. */
export function createPartyIdentity(party: number, file: string): PartyIdentity {
  const secretKey = ed25519.utils.randomSecretKey();
  writeFileSync(file, JSON.stringify({ party, secretKey: bytesToHex(secretKey) }), { mode: 0o600 });
  chmodSync(file, 0o600);
  return { party, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** Reads a party identity file. */
export function readPartyIdentity(file: string): PartyIdentity {
  const raw = JSON.parse(readFileSync(file, "utf8")) as { party: number; secretKey: string };
  const secretKey = hexToBytes(raw.secretKey);
  if (secretKey.length !== 32) throw new Error(`identity file ${file} is malformed`);
  return { party: raw.party, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** Writes the party directory (public keys only). */
export function writeDirectory(file: string, directory: PartyDirectory): void {
  const parties = Object.fromEntries([...directory].map(([p, k]) => [String(p), bytesToHex(k)]));
  writeFileSync(file, `${JSON.stringify({ parties }, null, 2)}\n`);
}

/** Reads the party directory; validates every key. */
export function readDirectory(file: string): PartyDirectory {
  const raw = JSON.parse(readFileSync(file, "utf8")) as { parties: Record<string, string> };
  const out = new Map<number, Uint8Array>();
  for (const [p, hex] of Object.entries(raw.parties)) {
    const key = hexToBytes(hex);
    ed25519.Point.fromBytes(key).assertValidity();
    out.set(Number(p), key);
  }
  return out;
}
