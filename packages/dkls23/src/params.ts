/**
 * Fixed DKLs23 parameters (spec dkls23.md §3). None of them is ever read from the network.
 * @module
 */

/** κ: computational security parameter; base OTs per ordered pair and bit length of Δ. */
export const KAPPA = 256;
/** λ_s: statistical security parameter. */
export const LAMBDA_S = 128;
/** ξ = κ + 2λ_s: OT instances per random VOLE (length of Bob's choice vector β). */
export const XI = KAPPA + 2 * LAMBDA_S;
/** Block size of the KOS packed check in bits (GF(2^128)). */
export const CHECK_BITS = 128;
/** m = ξ / 128: number of check challenges χ_c. */
export const CHECK_BLOCKS = XI / CHECK_BITS;
/** ℓ' = ξ + 128: extended columns per base-OT row. */
export const ELL_PRIME = XI + CHECK_BITS;
/** Bytes of one extended row. */
export const ROW_BYTES = ELL_PRIME / 8;
/** OT width w = ℓ + ρ = 3: two VOLE inputs (nonce share, key share) and one check element. */
export const OT_WIDTH = 3;
/** Commitment salt length in bytes. */
export const SALT_BYTES = 32;
/** Length of per-party session nonces mixed into the OT-extension tags (§5.0). */
export const NONCE_BYTES = 32;
/** Prefix of every oracle tag. */
export const TAG_PREFIX = "custody/dkls23/v1/";

/** Builds the domain tag of one oracle: `custody/dkls23/v1/<name>`. */
export function tag(name: string): string {
  return TAG_PREFIX + name;
}
