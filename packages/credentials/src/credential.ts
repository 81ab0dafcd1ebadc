/**
 * Credentials: a client's NKey public key, its role, tenant and key grants, signed by the Custody
 * authority (an operator NKey whose public key every API instance and every party trusts).
 * Format: `base64url(JSON claims) "." base64url(Ed25519 signature over frame("custody/credential/v1", [claims]))`.
 * An admin may delegate: see `chain.ts`. Nothing secret is in a credential; the client proves possession of its key by signing requests.
 * @module
 */
import { frame, transcriptHash } from "@custody/core";
import { createOperator, createUser, fromSeed } from "@nats-io/nkeys";
import { AuthError } from "./errors.js";
import { signWithSeed, verifyWithPublicKey } from "./keys.js";

/** What a credential allows. */
export type Role = "admin" | "signer" | "auditor";

/** The signed claims of a credential. */
export interface CredentialClaims {
  /** Format version. */
  readonly v: 1;
  /** The client's NKey user public key (`U...`). */
  readonly sub: string;
  /** A display name. */
  readonly name: string;
  readonly role: Role;
  /** The tenant the client acts for. */
  readonly tenant: string;
  /** Key ids a signer may sign with; `*` for every key of the tenant. Ignored for other roles. */
  readonly keys: readonly string[];
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64url"));
const ROLES: readonly Role[] = ["admin", "signer", "auditor"];
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
/** Credentials whose authority signature was already checked, mapped to that authority. */
const verified = new Map<string, string>();

/** Creates a new authority key pair (operator NKey). Returns the seed and public key. */
export function createAuthority(): { seed: string; publicKey: string } {
  const kp = createOperator();
  return { seed: dec.decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** Creates a new client key pair (user NKey). */
export function createClientKey(): { seed: string; publicKey: string } {
  const kp = createUser();
  return { seed: dec.decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** The public key of an NKey seed. */
export function publicKeyOfSeed(seed: string): string {
  return fromSeed(enc.encode(seed.trim())).getPublicKey();
}

/** Signs `claims` with the authority seed. */
export function issueCredential(authoritySeed: string, claims: Omit<CredentialClaims, "v">): string {
  const full: CredentialClaims = { v: 1, ...claims };
  checkClaims(full);
  const body = enc.encode(JSON.stringify(full));
  const sig = signWithSeed(authoritySeed, frame("custody/credential/v1", [body]));
  return `${b64(body)}.${b64(sig)}`;
}

function checkClaims(c: CredentialClaims): void {
  const ok =
    typeof c === "object" &&
    c !== null &&
    c.v === 1 &&
    typeof c.sub === "string" &&
    /^U[A-Z2-7]{55}$/.test(c.sub) &&
    ROLES.includes(c.role) &&
    typeof c.tenant === "string" &&
    TOKEN.test(c.tenant) &&
    typeof c.name === "string" &&
    c.name.length <= 100 &&
    Array.isArray(c.keys) &&
    c.keys.length <= 1000 &&
    c.keys.every((k) => typeof k === "string" && (k === "*" || TOKEN.test(k))) &&
    Number.isSafeInteger(c.iat) &&
    Number.isSafeInteger(c.exp) &&
    c.exp > c.iat;
  if (!ok) throw new AuthError("malformed", "credential claims are malformed");
}

/** The 32 id bytes of a credential: SHA-256 of the exact string under `custody/credential-id/v1`. */
export function credentialIdBytes(token: string): Uint8Array {
  return transcriptHash("custody/credential-id/v1", [token]);
}

/** The id of a credential (of a whole delegated chain too): 64 lower-case hex digits of its id bytes. */
export function credentialId(token: string): string {
  return Buffer.from(credentialIdBytes(token)).toString("hex");
}

/**
 * The two base64url parts (`body "." signature`) of one signed credential, decoded. Each part must
 * be the canonical encoding of its bytes (no unused trailing bits, no dangling character): the
 * credential id is a hash of the exact string, so a second spelling of the same signed bytes
 * would be a credential the revocation list does not name.
 */
export function splitSigned(token: string): { body: Uint8Array; sig: Uint8Array } {
  const parts = token.split(".");
  if (parts.length !== 2 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p)))
    throw new AuthError("malformed", "credential is malformed");
  const [body, sig] = parts.map(unb64) as [Uint8Array, Uint8Array];
  if (b64(body) !== parts[0] || b64(sig) !== parts[1])
    throw new AuthError("malformed", "credential is not canonical base64url");
  return { body, sig };
}

/** Parses and checks the claims of a credential body. @throws AuthError `malformed` */
export function parseClaims(body: Uint8Array): CredentialClaims {
  let claims: CredentialClaims;
  try {
    claims = JSON.parse(dec.decode(body)) as CredentialClaims;
  } catch {
    throw new AuthError("malformed", "credential claims are malformed");
  }
  checkClaims(claims);
  return claims;
}

/**
 * Checks a root credential (one an authority signed): its signature by one of `authorities` and its
 * claims, not the clock. Returns the claims and the authority that signed them.
 * @throws AuthError `malformed` or `bad-credential`
 */
export function inspectRoot(
  token: string,
  authorities: readonly string[],
): { claims: CredentialClaims; authority: string } {
  const { body, sig } = splitSigned(token);
  const signed = frame("custody/credential/v1", [body]);
  // Each credential's signature is checked once per process; later uses only look the signer up.
  const cached = verified.get(token);
  const authority =
    cached !== undefined && authorities.includes(cached)
      ? cached
      : authorities.find((a) => verifyWithPublicKey(a, signed, sig));
  if (authority === undefined)
    throw new AuthError("bad-credential", "credential is not signed by a trusted authority");
  const claims = parseClaims(body);
  if (cached !== authority) {
    if (verified.size >= 1000) verified.delete(verified.keys().next().value!);
    verified.set(token, authority);
  }
  return { claims, authority };
}
