/**
 * Standard BIP32 extended public key serialisation (mainnet `xpub`, depth 0) of a threshold key's
 * root public key and chain code, so any wallet library derives the same child keys.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { base58check } from "@scure/base";

const XPUB_VERSION = 0x0488b21e;

/** `xpub...` for a 33-byte compressed public key and 32-byte chain code (both hex). */
export function xpubOf(publicKeyHex: string, chainCodeHex: string): string | undefined {
  const pk = Buffer.from(publicKeyHex, "hex");
  const cc = Buffer.from(chainCodeHex, "hex");
  if (pk.length !== 33 || cc.length !== 32) return undefined;
  const out = Buffer.alloc(78);
  out.writeUInt32BE(XPUB_VERSION, 0);
  // depth 0, parent fingerprint 0, child number 0
  cc.copy(out, 13);
  pk.copy(out, 45);
  return base58check(sha256).encode(out);
}
