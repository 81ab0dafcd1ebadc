import { randomBytes } from "@noble/hashes/utils.js";
import { bit } from "../src/ot/base-ot.js";
import { KAPPA } from "../src/params.js";

/** Random base-OT correlation (as a dealer would produce): Bob's (k0, k1), Alice's (Δ, k^Δ). */
export function dealBaseOt() {
  const k0 = randomBytes(KAPPA * 32);
  const k1 = randomBytes(KAPPA * 32);
  const delta = randomBytes(KAPPA / 8);
  const kDelta = new Uint8Array(KAPPA * 32);
  for (let i = 0; i < KAPPA; i++) kDelta.set((bit(delta, i) ? k1 : k0).subarray(32 * i, 32 * i + 32), 32 * i);
  return { k0, k1, delta, kDelta };
}
