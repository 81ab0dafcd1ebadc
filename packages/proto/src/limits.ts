/**
 * Bounds the API and every party enforce alike on what one request may ask for.
 * @module
 */

/** Most BIP32 path components one signing request derives in all (summed over a batch's paths): each is a point multiplication at the API and at every party. */
export const MAX_PATH_COMPONENTS_PER_REQUEST = 1024;
