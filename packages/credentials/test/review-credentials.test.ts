/**
 * Adversarial review of credentials: a client holding a (revoked) credential re-spells it so that
 * its id changes but its meaning does not; a delegated leaf tries to smuggle `issuer`/`chain`
 * claims; a leaf signature is moved between frames. Each attack is run on correctly signed tokens.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { frame } from "@custody/core";
import {
  AuthError,
  type CredentialClaims,
  createAuthority,
  createClientKey,
  credentialId,
  delegateCredential,
  inspectCredential,
  issueCredential,
  verifyCredential,
} from "../src/index.js";
import { signWithSeed } from "../src/keys.js";

const authority = createAuthority();
const admin = createClientKey();
const leafKey = createClientKey();
const now = 1_800_000_000_000;
const iat = now / 1000 - 10;
const exp = now / 1000 + 3600;
type Claims = Omit<CredentialClaims, "v">;
const rootClaims: Claims = {
  sub: admin.publicKey,
  name: "admin",
  role: "admin",
  tenant: "acme",
  keys: ["*"],
  iat,
  exp,
};
const leafClaims: Claims = {
  sub: leafKey.publicKey,
  name: "leaf",
  role: "signer",
  tenant: "acme",
  keys: ["k1"],
  iat,
  exp,
};
const root = issueCredential(authority.seed, rootClaims);
const leaf = delegateCredential(admin.seed, root, leafClaims);
const trusted = [authority.publicKey];
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const malformed = (e: unknown) => {
  assert.ok(e instanceof AuthError, String(e));
  assert.equal(e.code, "malformed", e.message);
  return true;
};

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** Another spelling of a base64url string that decodes to the same bytes (flips unused low bits). */
function respell(part: string): string {
  const last = ALPHABET.indexOf(part.at(-1)!);
  const unused = part.length % 4 === 2 ? 4 : part.length % 4 === 3 ? 2 : 0;
  assert.ok(unused > 0, "this part has no unused bits");
  const other = part.slice(0, -1) + ALPHABET[last ^ 1]!;
  assert.deepEqual(Buffer.from(other, "base64url"), Buffer.from(part, "base64url"));
  return other;
}
/** Replaces part `i` (0: body, 1: signature) of the signed token after the last `~`. */
function respellLast(token: string, i: 0 | 1): string {
  const cut = token.lastIndexOf("~") + 1;
  const parts = token.slice(cut).split(".");
  parts[i] = respell(parts[i]!);
  return token.slice(0, cut) + parts.join(".");
}

test("a root credential re-spelled with unused base64url bits (a new id, same signature) is malformed", () => {
  const other = respellLast(root, 1);
  assert.notEqual(credentialId(other), credentialId(root));
  assert.throws(() => verifyCredential(other, trusted, now), malformed);
  assert.throws(() => inspectCredential(other, trusted), malformed);
});

test("a root credential whose claims part is re-spelled is malformed", () => {
  // Choose a name so that the claims' base64url has unused bits.
  const withBits = [0, 1, 2]
    .map((n) => issueCredential(authority.seed, { ...rootClaims, name: `admin${"x".repeat(n)}` }))
    .find((t) => t.split(".")[0]!.length % 4 !== 0)!;
  assert.throws(() => verifyCredential(respellLast(withBits, 0), trusted, now), malformed);
});

test("a root credential with a dangling base64url character (ignored by decoders) is malformed", () => {
  // Choose a name so that the claims' base64url is a whole number of 4-character groups.
  const whole = [0, 1, 2]
    .map((n) => issueCredential(authority.seed, { ...rootClaims, name: `admin${"x".repeat(n)}` }))
    .find((t) => t.split(".")[0]!.length % 4 === 0)!;
  const [body, sig] = whole.split(".") as [string, string];
  assert.deepEqual(Buffer.from(`${body}A`, "base64url"), Buffer.from(body, "base64url"));
  assert.throws(() => verifyCredential(`${body}A.${sig}`, trusted, now), malformed);
});

test("a delegated credential re-spelled in its leaf signature is malformed", () => {
  const other = respellLast(leaf, 1);
  assert.notEqual(credentialId(other), credentialId(leaf));
  assert.throws(() => verifyCredential(other, trusted, now), malformed);
});

test("a revoked admin cannot re-spell its own credential to issue leaves the revocation does not reach", () => {
  // The admin still holds its seed: it signs a leaf under a re-spelling of its (revoked) credential.
  const respelled = respellLast(root, 1);
  const body = new TextEncoder().encode(JSON.stringify({ v: 1, ...leafClaims }));
  const issuerId = new Uint8Array(Buffer.from(credentialId(respelled), "hex"));
  const sig = signWithSeed(admin.seed, frame("custody/credential/delegated/v1", [issuerId, body]));
  const forged = `${respelled}~${b64(body)}.${b64(sig)}`;
  assert.throws(() => verifyCredential(forged, trusted, now), malformed);
});

test("a leaf's own issuer and chain claims never replace the verified ones", () => {
  const body = new TextEncoder().encode(
    JSON.stringify({ v: 1, ...leafClaims, issuer: authority.publicKey, chain: ["00".repeat(32)] }),
  );
  const issuerId = new Uint8Array(Buffer.from(credentialId(root), "hex"));
  const sig = signWithSeed(admin.seed, frame("custody/credential/delegated/v1", [issuerId, body]));
  const token = `${root}~${b64(body)}.${b64(sig)}`;
  const v = verifyCredential(token, trusted, now);
  assert.equal(v.issuer, admin.publicKey);
  assert.deepEqual(v.chain, [credentialId(root), credentialId(token)]);
});

test("a leaf signature made over the root frame, or a root signature by the admin key, is refused", () => {
  const body = new TextEncoder().encode(JSON.stringify({ v: 1, ...leafClaims }));
  // The admin signs the claims the way an authority signs a root credential.
  const asRoot = signWithSeed(admin.seed, frame("custody/credential/v1", [body]));
  const code = (c: string) => (e: unknown) => e instanceof AuthError && e.code === c;
  assert.throws(
    () => verifyCredential(`${root}~${b64(body)}.${b64(asRoot)}`, trusted, now),
    code("bad-credential"),
  );
  // A leaf on its own (the admin key is not an authority) is no root credential.
  assert.throws(() => verifyCredential(`${b64(body)}.${b64(asRoot)}`, trusted, now), code("bad-credential"));
});
