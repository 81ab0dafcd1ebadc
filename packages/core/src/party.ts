/**
 * Party identifiers. A party is one share holder; inside a protocol it is named by a small positive
 * integer (1..255) that doubles as its Shamir evaluation point.
 * @module
 */
import { ProtocolError } from "./errors.js";

/** A party's index inside a key: an integer in 1..255, also its Shamir x-coordinate. */
export type PartyId = number;

/** Largest party index we accept; bounds every per-party table and keeps ids one byte long. */
export const MAX_PARTY_ID = 255;

/** True when `id` is a valid party index. */
export function isPartyId(id: unknown): id is PartyId {
  return typeof id === "number" && Number.isInteger(id) && id >= 1 && id <= MAX_PARTY_ID;
}

/**
 * Checks a set of parties: valid ids, no duplicates, at least `min` members. Returns a sorted copy.
 * @throws ProtocolError (kind `bad-input`) naming the offending id.
 */
export function assertPartySet(ids: readonly number[], min = 1, title = "parties"): PartyId[] {
  const seen = new Set<number>();
  for (const id of ids) {
    if (!isPartyId(id)) throw new ProtocolError("bad-input", `${title}: invalid party id ${String(id)}`);
    if (seen.has(id)) throw new ProtocolError("bad-input", `${title}: duplicate party id ${id}`);
    seen.add(id);
  }
  if (seen.size < min)
    throw new ProtocolError("bad-input", `${title}: need at least ${min}, got ${seen.size}`);
  return [...seen].sort((a, b) => a - b);
}

/** Validates a threshold t against n parties: 2 <= t <= n <= 255. */
export function assertThreshold(t: number, n: number): void {
  if (!Number.isInteger(n) || n < 2 || n > MAX_PARTY_ID)
    throw new ProtocolError("bad-input", `parties must be an integer in 2..${MAX_PARTY_ID}, got ${n}`);
  if (!Number.isInteger(t) || t < 2 || t > n)
    throw new ProtocolError("bad-input", `threshold must be an integer in 2..${n}, got ${t}`);
}
