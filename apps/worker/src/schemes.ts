/**
 * The schemes this worker can run, by API name.
 * @module
 */
import type { Scheme } from "@custody/core";
import { ecdsaScheme } from "@custody/dkls23";
import { bip340Scheme, ed25519Scheme, type FrostScheme } from "@custody/frost";

/** Every supported scheme, keyed by its API name. */
export const SCHEMES: ReadonlyMap<string, Scheme<unknown>> = new Map<string, Scheme<unknown>>(
  [ed25519Scheme as Scheme<unknown>, bip340Scheme as Scheme<unknown>, ecdsaScheme as Scheme<unknown>].map(
    (s) => [s.name, s],
  ),
);

/** The schemes that sign for BIP341 Taproot output keys, keyed by API name (bip340 only). */
export const TAPROOT_SCHEMES: ReadonlyMap<string, FrostScheme> = new Map([[bip340Scheme.name, bip340Scheme]]);

/**
 * Most messages one signing batch of each scheme may hold. A batch message carries every
 * instance's message of its round: FROST's are under 100 bytes, a DKLs23 round-2 message is
 * about 49 KB per instance and pair, so 32 ECDSA instances (≈1.6 MB) stay under the broker's
 * 2 MiB `max_payload`.
 */
export const MAX_BATCH_BY_SCHEME: ReadonlyMap<string, number> = new Map([
  ["ed25519", 256],
  ["bip340", 256],
  ["ecdsa-secp256k1", 32],
]);
