/**
 * The schemes this worker can run, by API name.
 * @module
 */
import type { Scheme } from "@custody/core";
import { ecdsaScheme } from "@custody/dkls23";
import { bip340Scheme, ed25519Scheme } from "@custody/frost";

/** Every supported scheme, keyed by its API name. */
export const SCHEMES: ReadonlyMap<string, Scheme<unknown>> = new Map<string, Scheme<unknown>>(
  [ed25519Scheme as Scheme<unknown>, bip340Scheme as Scheme<unknown>, ecdsaScheme as Scheme<unknown>].map(
    (s) => [s.name, s],
  ),
);
