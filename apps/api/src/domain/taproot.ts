/**
 * BIP341 Taproot output keys of `bip340` keys and their mainnet addresses, for the API's views and
 * its own result check, computed independently of the parties' code: the TapTweak
 * `t = tagged_hash("TapTweak", x(P) || merkleRoot)` with node:crypto SHA-256, `Q = lift_x(P) + t·G`
 * by libsecp256k1 (tiny-secp256k1, which refuses `t ≥ n` and an internal key off the curve), the
 * address by @scure/base bech32m (BIP350, witness version 1, `bc`).
 * @module
 */
import { createHash } from "node:crypto";
import { bech32m } from "@scure/base";
import * as ecc from "tiny-secp256k1";
import type { TaprootView } from "./records.js";

const TAG = createHash("sha256").update("TapTweak").digest();

/** Mainnet P2TR address (`bc1p…`) of a 32-byte x-only output key. */
function p2trAddress(outputKey: Uint8Array): string {
  return bech32m.encode("bc", [1, ...bech32m.toWords(outputKey)]);
}

/**
 * The Taproot output of x-only internal key `internalKeyHex` committing to `merkleRootHex` (none:
 * BIP86, key path only): internal and output key, the root when given, and the address. Undefined
 * when the internal key or root is malformed or the tweak is invalid (probability below 2^-127).
 */
export function taprootView(internalKeyHex: string, merkleRootHex?: string): TaprootView | undefined {
  if (!/^[0-9a-f]{64}$/.test(internalKeyHex)) return undefined;
  if (merkleRootHex !== undefined && !/^[0-9a-f]{64}$/.test(merkleRootHex)) return undefined;
  const internal = Buffer.from(internalKeyHex, "hex");
  const root = merkleRootHex === undefined ? Buffer.alloc(0) : Buffer.from(merkleRootHex, "hex");
  const tweak = createHash("sha256").update(TAG).update(TAG).update(internal).update(root).digest();
  let tweaked: ReturnType<typeof ecc.xOnlyPointAddTweak>;
  try {
    tweaked = ecc.xOnlyPointAddTweak(internal, tweak);
  } catch {
    return undefined;
  }
  if (tweaked === null) return undefined;
  const outputKey = Buffer.from(tweaked.xOnlyPubkey);
  return {
    internalKey: internalKeyHex,
    outputKey: outputKey.toString("hex"),
    ...(merkleRootHex !== undefined ? { merkleRoot: merkleRootHex } : {}),
    address: p2trAddress(outputKey),
  };
}
