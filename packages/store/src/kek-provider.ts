/**
 * Key-encryption-key providers: what wraps and unwraps the per-record data keys (DEKs) of sealed
 * records. A provider never hands out its KEK; it wraps a DEK bound to associated data, and unwraps
 * only under the same associated data. Its errors: {@link KekUnavailableError} when the KEK cannot
 * be reached (fail closed: no provider ever falls back to another KEK), {@link KekConfigError} for a
 * configuration that is refused; a DEK that does not unwrap is a `SealError` of the sealing layer.
 * @module
 */

/** A DEK wrapped under one KEK: the KEK's id (kept in the record) and the provider's bytes. */
export interface WrappedDek {
  /** Id of the KEK that wrapped it (printable ASCII, at most {@link MAX_KEK_ID} bytes). */
  readonly kek: string;
  readonly bytes: Uint8Array;
}

import { SealError } from "./seal-error.js";

/** Wraps and unwraps 32-byte DEKs under a KEK it keeps to itself. */
export interface KekProvider {
  /** Id of the KEK new records are wrapped under. */
  readonly id: string;
  /** Wraps `dek` bound to `aad`. */
  wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedDek>;
  /** Unwraps a DEK wrapped for `aad`; throws a SealError when it was wrapped for other data or tampered with. */
  unwrap(wrapped: WrappedDek, aad: Uint8Array): Promise<Uint8Array>;
  /**
   * Decrypts a version-1 record body (XChaCha20-Poly1305 directly under a software KEK, before
   * envelope encryption); only a provider that holds such a KEK has it.
   */
  openDirect?(ad: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/** Longest KEK id a record can name. */
export const MAX_KEK_ID = 64;

/** Why a KEK cannot be used. */
export type KekUnavailableReason =
  | "module-missing"
  | "token-missing"
  | "login-failed"
  | "pin-unreadable"
  | "key-missing"
  | "key-unsuitable"
  | "token-error";

/** The KEK cannot be reached: the party fails closed (never falls back to another KEK). */
export class KekUnavailableError extends Error {
  override readonly name = "KekUnavailableError";
  constructor(
    readonly reason: KekUnavailableReason,
    message: string,
  ) {
    super(message);
  }
}

/** A KEK configuration that is refused (a file KEK without `insecure-file-kek`, or a malformed one). */
export class KekConfigError extends Error {
  override readonly name = "KekConfigError";
  constructor(
    readonly reason: "insecure-file-kek" | "invalid",
    message: string,
  ) {
    super(message);
  }
}

/** Checks a KEK id: printable ASCII, 1 to {@link MAX_KEK_ID} characters. */
export function checkKekId(id: string): string {
  if (!/^[\x21-\x7e]+$/.test(id) || id.length > MAX_KEK_ID)
    throw new KekConfigError("invalid", `KEK id must be 1 to ${MAX_KEK_ID} printable ASCII characters`);
  return id;
}

/**
 * A provider for rotation: wraps under `current`, unwraps with whichever provider's id a record
 * names (`current` or one of `retired`); a record naming any other KEK is a SealError.
 */
export function kekRing(current: KekProvider, ...retired: readonly KekProvider[]): KekProvider {
  const all = [current, ...retired];
  const byId = new Map(all.map((p) => [p.id, p]));
  if (byId.size !== all.length) throw new KekConfigError("invalid", "two KEKs of a ring share an id");
  const direct = all.filter((p) => p.openDirect);
  return {
    id: current.id,
    wrap: (dek, aad) => current.wrap(dek, aad),
    unwrap: async (wrapped, aad) => {
      const p = byId.get(wrapped.kek);
      if (!p) throw new SealError(`sealed under KEK ${wrapped.kek}, which this party does not hold`);
      return p.unwrap(wrapped, aad);
    },
    ...(direct.length > 0 && {
      openDirect: (ad: Uint8Array, nonce: Uint8Array, ct: Uint8Array) => {
        let failure: unknown;
        for (const p of direct) {
          try {
            return p.openDirect!(ad, nonce, ct);
          } catch (e) {
            failure = e;
          }
        }
        throw failure;
      },
    }),
  };
}
