/**
 * docs/api-auth-vectors.json, checked both ways with the library: every value in it is what the
 * library computes from the document's inputs, and every signature in it verifies. (The same file
 * is checked against the specification alone, with node:crypto, by apps/cli's spec-client test.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  type CredentialClaims,
  canonicalPath,
  credentialDigest,
  credentialId,
  delegateCredential,
  issueCredential,
  publicKeyOfSeed,
  requestFromHeaders,
  requestSigningBytes,
  verifyCredential,
  verifyRequest,
} from "../src/index.js";
import { rawPublicKey, signWithSeed } from "../src/keys.js";

interface RequestVector {
  method: string;
  target: string;
  canonicalTarget?: string;
  body: string;
  timestampMs: number;
  nonce: string;
  credentialDigest: string;
  signedBytes: string;
  signature: string;
}
const V = JSON.parse(
  readFileSync(new URL("../../../../docs/api-auth-vectors.json", import.meta.url), "utf8"),
) as {
  keys: Record<string, string>;
  credential: { claims: CredentialClaims; credential: string };
  requests: RequestVector[];
  canonicalTargets: { target: string; canonical: string }[];
  delegated: {
    issuerSeed: string;
    issuerCredential: string;
    issuerId: string;
    leafSeed: string;
    leaf: string;
    leafClaims: CredentialClaims;
    credential: string;
    id: string;
    request: RequestVector;
  };
};
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const { v: _v, ...claims } = V.credential.claims;
const { v: _lv, ...leafClaims } = V.delegated.leafClaims;

/** Recomputes a request vector with `seed`, then verifies the vector's own signature. */
function checkRequest(r: RequestVector, credential: string, seed: string) {
  const body = new TextEncoder().encode(r.body);
  if (r.canonicalTarget !== undefined) assert.equal(canonicalPath(r.target), r.canonicalTarget);
  assert.equal(hex(credentialDigest(credential)), r.credentialDigest);
  const bytes = requestSigningBytes(credential, r.method, r.target, body, r.timestampMs, r.nonce);
  assert.equal(hex(bytes), r.signedBytes);
  assert.equal(Buffer.from(signWithSeed(seed, bytes)).toString("base64url"), r.signature);
  const received = requestFromHeaders(
    {
      "custody-credential": credential,
      "custody-timestamp": String(r.timestampMs),
      "custody-nonce": r.nonce,
      "custody-signature": r.signature,
    },
    r.method,
    r.target,
    body,
  );
  return verifyRequest(received, [V.keys.authority!], 60_000, r.timestampMs);
}

test("keys and the root credential", () => {
  assert.equal(publicKeyOfSeed(V.keys.authoritySeed!), V.keys.authority);
  assert.equal(publicKeyOfSeed(V.keys.clientSeed!), V.keys.client);
  assert.equal(hex(rawPublicKey(V.keys.authority!)), V.keys.authorityRawPublicKey);
  assert.equal(hex(rawPublicKey(V.keys.client!)), V.keys.clientRawPublicKey);
  assert.equal(issueCredential(V.keys.authoritySeed!, claims), V.credential.credential);
  const verified = verifyCredential(V.credential.credential, [V.keys.authority!], claims.iat * 1000);
  assert.equal(verified.sub, V.keys.client);
});

test("signed requests", () => {
  for (const r of V.requests) {
    const c = checkRequest(r, V.credential.credential, V.keys.clientSeed!);
    assert.equal(c.sub, V.keys.client);
  }
});

test("canonical targets", () => {
  for (const { target, canonical } of V.canonicalTargets)
    assert.equal(canonicalPath(target), canonical, target);
});

test("a delegated credential and a request made with it", () => {
  const d = V.delegated;
  assert.equal(publicKeyOfSeed(d.leafSeed), d.leaf);
  assert.equal(credentialId(d.issuerCredential), d.issuerId);
  assert.equal(delegateCredential(d.issuerSeed, d.issuerCredential, leafClaims), d.credential);
  assert.equal(credentialId(d.credential), d.id);
  const c = checkRequest(d.request, d.credential, d.leafSeed);
  assert.equal(c.sub, d.leaf);
  assert.equal(c.role, "signer");
});
