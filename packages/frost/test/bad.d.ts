/**
 * Invalid encodings for the deserializer tables (security.md §1.3): identity, small-order and
 * mixed-order Ed25519 points, non-canonical and off-curve encodings, out-of-range scalars; plus
 * payload surgery helpers for the tamper hook.
 * @module
 */
import type { PartyId, Tamper } from "@custody/core";
import { type Ciphersuite } from "../src/ciphersuite.js";
/** Same-length invalid element encodings for a suite. */
export declare function badPoints(suite: Ciphersuite): [string, Uint8Array][];
/** Same-length invalid scalar encodings (non-canonical: ≥ the group order). */
export declare function badScalars(suite: Ciphersuite): [string, Uint8Array][];
/** A random valid element (not the identity). */
export declare function randomPoint(suite: Ciphersuite): Uint8Array;
/** Copy of `payload` with `bytes` written at `offset`. */
export declare function patch(payload: Uint8Array, offset: number, bytes: Uint8Array): Uint8Array;
/** Adds 1 to the scalar at `offset` (a canonical but wrong value). */
export declare function bumpScalar(suite: Ciphersuite, payload: Uint8Array, offset: number): Uint8Array;
/** Flips the lowest bit of the byte at `offset`. */
export declare function flip(payload: Uint8Array, offset: number): Uint8Array;
/** The payload without its last byte. */
export declare const truncate: (p: Uint8Array) => Uint8Array;
/** The payload with one extra zero byte. */
export declare const extend: (p: Uint8Array) => Uint8Array;
/** Rewrites the payload of messages of `round` sent by `from` (optionally only towards `to`). */
export declare function rewrite(round: number, from: PartyId, f: (p: Uint8Array) => Uint8Array, to?: PartyId): Tamper;
//# sourceMappingURL=bad.d.ts.map