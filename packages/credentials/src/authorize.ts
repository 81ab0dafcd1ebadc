/**
 * Roles and grants: who may do what. Shared by the API (before accepting a request) and by every
 * party (before contributing to one), so a compromised API cannot widen anybody's rights.
 * @module
 */
import type { CredentialClaims } from "./credential.js";
import { AuthError } from "./errors.js";

/** An action on the service. */
export type Action =
  | { readonly kind: "read" }
  | { readonly kind: "create-key" }
  | { readonly kind: "refresh"; readonly keyId: string }
  | { readonly kind: "sign"; readonly keyId: string };

/** True when `claims` allow `action`. Tenancy is checked separately (keys carry their tenant). */
export function allows(claims: CredentialClaims, action: Action): boolean {
  switch (claims.role) {
    case "admin":
      return true;
    case "auditor":
      return action.kind === "read";
    case "signer":
      return (
        action.kind === "read" ||
        (action.kind === "sign" && (claims.keys.includes("*") || claims.keys.includes(action.keyId)))
      );
    default:
      return false;
  }
}

/** Throws AuthError `forbidden` unless `claims` allow `action`. */
export function authorize(claims: CredentialClaims, action: Action): void {
  if (!allows(claims, action)) throw new AuthError("forbidden", `role ${claims.role} may not ${action.kind}`);
}
