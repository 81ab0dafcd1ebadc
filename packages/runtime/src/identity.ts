/**
 * NATS identities: every process connects with its own NKey (an Ed25519 key pair). Seeds live in
 * files readable only by their owner; only public keys go into user JWTs.
 * @module
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { fmtCreds } from "@nats-io/jwt";
import { createUser, fromSeed } from "@nats-io/nkeys";

/** A named NKey user identity. */
export interface Identity {
  /** Human name, e.g. `api` or `party1-w1`. */
  readonly name: string;
  /** Public key (`U...`), safe to publish. */
  readonly publicKey: string;
  /** Path of the seed file (`SU...`), secret. */
  readonly seedFile: string;
}

/** Creates a new user NKey and writes its seed to `seedFile` with mode 0600. */
export function createIdentity(name: string, seedFile: string): Identity {
  const kp = createUser();
  writeFileSync(seedFile, new TextDecoder().decode(kp.getSeed()), { mode: 0o600 });
  chmodSync(seedFile, 0o600);
  return { name, publicKey: kp.getPublicKey(), seedFile };
}

/** Reads a seed file and returns its bytes (for `nkeyAuthenticator`). Validates the seed. */
export function readSeed(seedFile: string): Uint8Array {
  const seed = new TextEncoder().encode(readFileSync(seedFile, "utf8").trim());
  fromSeed(seed); // throws on a malformed seed
  return seed;
}

/** The public key of a seed file. */
export function publicKeyOf(seedFile: string): string {
  return fromSeed(readSeed(seedFile)).getPublicKey();
}

/** Writes a NATS credentials file (mode 0600) joining a user JWT and the identity's seed. */
export function writeCreds(file: string, jwt: string, seedFile: string): void {
  const creds = fmtCreds(jwt, fromSeed(readSeed(seedFile)));
  writeFileSync(file, creds, { mode: 0o600 });
  chmodSync(file, 0o600);
}
