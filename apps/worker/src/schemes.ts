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
