/**
 * Why a credential or a request was refused. Codes are stable; messages never contain key material.
 * @module
 */

/** Stable refusal codes. */
export type AuthCode =
  | "missing"
  | "malformed"
  | "bad-credential"
  | "expired"
  | "bad-signature"
  | "stale"
  | "replayed"
  | "forbidden"
  | "mismatch"
  | "revoked"
  | "delegation-depth"
  | "delegation-role"
  | "delegation-tenant"
  | "delegation-keys"
  | "delegation-expiry";

/** A refused credential or request. `forbidden` means authenticated but not allowed. */
export class AuthError extends Error {
  override readonly name = "AuthError";
  constructor(
    readonly code: AuthCode,
    message: string,
  ) {
    super(message);
  }
}
