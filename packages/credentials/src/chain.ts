/**
 * Delegated credentials and the one entry point that accepts any credential. An `admin` credential
 * an authority signed (the issuer) may sign, with the admin's own NKey, a credential for a client of
 * its tenant: role `admin`, `signer` or `auditor`, keys a subset of the issuer's, expiring no later
 * than the issuer. The leaf travels with its issuer's credential:
 *
 * `<issuer credential> "~" base64url(JSON claims) "." base64url(Ed25519 signature by the issuer's
 * key over frame("custody/credential/delegated/v1", [issuer credential id bytes, claims]))`
 *
 * The frame binds the exact issuer credential, so a leaf cannot be moved under another credential of
 * the same admin key. A chain is at most authority → admin → leaf: a delegated admin cannot delegate.
 * Revoking the issuer's credential revokes the chain: every id of {@link VerifiedCredential.chain} is
 * looked up in the revocation list.
 * @module
 */
import { frame } from "@custody/core";
import {
  type CredentialClaims,
  credentialId,
  credentialIdBytes,
  inspectRoot,
  parseClaims,
  publicKeyOfSeed,
  splitSigned,
} from "./credential.js";
import { AuthError } from "./errors.js";
import { signWithSeed, verifyWithPublicKey } from "./keys.js";

/** A checked credential: the claims it grants, who signed them, and the ids of its chain. */
export interface VerifiedCredential extends CredentialClaims {
  /** Who signed the claims: the authority (`O…`), or the issuing admin's key (`U…`) for a delegated one. */
  readonly issuer: string;
  /** Credential ids of the chain: the issuer's credential first (when delegated), this credential last. */
  readonly chain: readonly string[];
}

/** Separates an issuer credential from the delegated part. */
export const CHAIN_SEPARATOR = "~";
const DELEGATED = "custody/credential/delegated/v1";
const MAX_TOKEN = 16_384;
const enc = new TextEncoder();
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** The rules a delegated credential obeys towards its issuer's claims. */
function checkDelegation(issuer: CredentialClaims, leaf: CredentialClaims): void {
  if (issuer.role !== "admin")
    throw new AuthError("delegation-role", "only an admin credential may issue credentials");
  if (leaf.tenant !== issuer.tenant)
    throw new AuthError("delegation-tenant", "a delegated credential is for its issuer's tenant only");
  if (!leaf.keys.every((k) => issuer.keys.includes("*") || issuer.keys.includes(k)))
    throw new AuthError("delegation-keys", "a delegated credential grants keys its issuer does not hold");
  if (leaf.exp > issuer.exp)
    throw new AuthError("delegation-expiry", "a delegated credential may not outlive its issuer");
}

/**
 * Signs a credential for `claims` with an admin's seed, under the admin's own credential. The rules
 * are checked here too (on the issuer credential as given: its authority signature is the verifier's).
 * @throws AuthError `delegation-depth` (the issuer credential is itself delegated), `malformed`,
 *   `mismatch` (the seed is not the issuer credential's key) or a delegation rule's code
 */
export function delegateCredential(
  issuerSeed: string,
  issuerCredential: string,
  claims: Omit<CredentialClaims, "v">,
): string {
  if (issuerCredential.includes(CHAIN_SEPARATOR))
    throw new AuthError("delegation-depth", "a delegated credential cannot issue credentials");
  const issuer = parseClaims(splitSigned(issuerCredential).body);
  if (publicKeyOfSeed(issuerSeed) !== issuer.sub)
    throw new AuthError("mismatch", "the seed is not the issuer credential's key");
  const body = enc.encode(JSON.stringify({ v: 1, ...claims }));
  checkDelegation(issuer, parseClaims(body));
  const sig = signWithSeed(issuerSeed, frame(DELEGATED, [credentialIdBytes(issuerCredential), body]));
  return `${issuerCredential}${CHAIN_SEPARATOR}${b64(body)}.${b64(sig)}`;
}

/**
 * Checks a credential, root or delegated, against the trusted authorities, but not the clock: for
 * deciding about a credential (e.g. revoking it) rather than accepting it. Use
 * {@link verifyCredential} to accept one.
 * @throws AuthError `malformed`, `bad-credential`, `delegation-depth`, `delegation-role`,
 *   `delegation-tenant`, `delegation-keys` or `delegation-expiry`
 */
export function inspectCredential(token: string, authorities: readonly string[]): VerifiedCredential {
  if (typeof token !== "string" || token.length > MAX_TOKEN)
    throw new AuthError("malformed", "credential is malformed");
  const parts = token.split(CHAIN_SEPARATOR);
  if (parts.length > 2)
    throw new AuthError("delegation-depth", "a delegated credential cannot issue credentials");
  const root = inspectRoot(parts[0]!, authorities);
  if (parts.length === 1) return { ...root.claims, issuer: root.authority, chain: [credentialId(token)] };
  const { body, sig } = splitSigned(parts[1]!);
  const issuerId = credentialIdBytes(parts[0]!);
  if (!verifyWithPublicKey(root.claims.sub, frame(DELEGATED, [issuerId, body]), sig))
    throw new AuthError("bad-credential", "delegated credential is not signed by its issuer");
  const leaf = parseClaims(body);
  checkDelegation(root.claims, leaf);
  return {
    ...leaf,
    issuer: root.claims.sub,
    chain: [Buffer.from(issuerId).toString("hex"), credentialId(token)],
  };
}

/**
 * Verifies a credential, root or delegated, against the trusted authority keys and the clock (a
 * delegated credential never outlives its issuer, so its own expiry bounds the chain's).
 * @throws AuthError `expired`, or any code of {@link inspectCredential}
 */
export function verifyCredential(
  token: string,
  authorities: readonly string[],
  nowMs = Date.now(),
): VerifiedCredential {
  const claims = inspectCredential(token, authorities);
  if (nowMs / 1000 >= claims.exp) throw new AuthError("expired", "credential expired");
  return claims;
}
