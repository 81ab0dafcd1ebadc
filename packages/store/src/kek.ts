/**
 * File key-encryption keys (development only): 32 random bytes per party, kept in a file (hex)
 * readable only by its owner; see {@link FileKek}.
 * @module
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "@noble/ciphers/utils.js";
import { KekConfigError } from "./kek-provider.js";

/** Reads a KEK file (64 hex characters). */
export function readKek(file: string): Uint8Array {
  const hex = readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/i.test(hex))
    throw new KekConfigError("invalid", `KEK file ${file} must hold 64 hex characters`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** Creates a KEK file with a fresh random key (mode 0600). */
export function createKekFile(file: string): void {
  writeFileSync(file, Buffer.from(randomBytes(32)).toString("hex"), { mode: 0o600 });
  chmodSync(file, 0o600);
}
