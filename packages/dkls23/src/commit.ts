/**
 * Salted hash commitments bound to the session and the parties (spec dkls23.md §4.1):
 * `c = H(tag; sid, sender, receiver | "all", salt, data…)`. Opening reveals `(salt, data)`.
 * @module
 */
import type { HashPart } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { ctEqual } from "./group.js";
import { H } from "./hash.js";
import { SALT_BYTES } from "./params.js";

/** Receiver of a commitment: one party, or `"all"` for a broadcast commitment. */
export type CommitTarget = number | "all";

/** Commitment value for the given salt and data. */
export function commitment(
  name: string,
  sid: Uint8Array,
  from: number,
  to: CommitTarget,
  salt: Uint8Array,
  data: readonly HashPart[],
): Uint8Array {
  return H(name, [sid, from, to === "all" ? "all" : to, salt, ...data]);
}

/** Creates a commitment with a fresh random salt. */
export function commit(
  name: string,
  sid: Uint8Array,
  from: number,
  to: CommitTarget,
  data: readonly HashPart[],
): { commitment: Uint8Array; salt: Uint8Array } {
  const salt = randomBytes(SALT_BYTES);
  return { commitment: commitment(name, sid, from, to, salt, data), salt };
}

/** True when `(salt, data)` opens `c` (constant-time comparison). */
export function opens(
  c: Uint8Array,
  name: string,
  sid: Uint8Array,
  from: number,
  to: CommitTarget,
  salt: Uint8Array,
  data: readonly HashPart[],
): boolean {
  return salt.length === SALT_BYTES && ctEqual(c, commitment(name, sid, from, to, salt, data));
}
