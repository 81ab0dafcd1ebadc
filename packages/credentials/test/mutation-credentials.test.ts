/** Credential and request checks that only targeted inputs reach (found by mutation testing). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { frame } from "@custody/core";
import {
  AuthError,
  allows,
  authorize,
  createAuthority,
  createClientKey,
  inspectCredential,
  issueCredential,
  requestFromHeaders,
  signRequest,
  verifyCredential,
  verifyRequest,
} from "../src/index.js";
import { signWithSeed } from "../src/keys.js";

const authority = createAuthority();
const client = createClientKey();
const now = 1_800_000_000_000;
const good = {
  v: 1,
  sub: client.publicKey,
  name: "c",
  role: "signer",
  tenant: "acme",
  keys: ["key_1"],
  iat: now / 1000 - 10,
  exp: now / 1000 + 3600,
};
const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof AuthError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
/** A credential the authority signed over any bytes (bypassing issueCredential's own checks). */
const signedBody = (body: unknown) => {
  const bytes = new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
  return `${b64(bytes)}.${b64(signWithSeed(authority.seed, frame("custody/credential/v1", [bytes])))}`;
};

test("every role and action: admin all, signer reads and signs granted keys, auditor reads, unknown roles nothing", () => {
  const c = (role: string, keys: string[] = []) => ({ ...good, role, keys }) as Parameters<typeof allows>[0];
  const actions = [
    { kind: "read" },
    { kind: "create-key" },
    { kind: "refresh", keyId: "key_1" },
    { kind: "sign", keyId: "key_1" },
  ] as const;
  const table = (role: string, keys: string[]) => actions.map((a) => allows(c(role, keys), a));
  assert.deepEqual(table("admin", []), [true, true, true, true]);
  assert.deepEqual(table("signer", ["key_1"]), [true, false, false, true]);
  assert.deepEqual(table("signer", []), [true, false, false, false]);
  assert.deepEqual(table("auditor", ["*"]), [true, false, false, false]);
  assert.deepEqual(table("root", ["*"]), [false, false, false, false]);
  assert.throws(() => authorize(c("auditor"), { kind: "sign", keyId: "key_1" }), code("forbidden"));
  authorize(c("auditor"), { kind: "read" });
});

test("an authority-signed credential with malformed claims is refused, one defect at a time", () => {
  assert.equal(inspectCredential(signedBody(good), [authority.publicKey]).sub, client.publicKey);
  const defects: Record<string, unknown> = {
    "not an object": "[]",
    null: "null",
    "version 2": { ...good, v: 2 },
    "sub not a string": { ...good, sub: 7 },
    "sub not a user key": { ...good, sub: `X${client.publicKey.slice(1)}` },
    "sub with a suffix": { ...good, sub: `${client.publicKey}A` },
    "sub with a prefix": { ...good, sub: `A${client.publicKey}` },
    "unknown role": { ...good, role: "root" },
    "tenant not a string": { ...good, tenant: 1 },
    "tenant not a token": { ...good, tenant: "a.b" },
    "name not a string": { ...good, name: 1 },
    "name too long": { ...good, name: "n".repeat(101) },
    "keys not a list": { ...good, keys: "key_1" },
    "too many keys": { ...good, keys: Array.from({ length: 1001 }, (_, i) => `k${i}`) },
    "a key not a string": { ...good, keys: ["key_1", 5] },
    "a key not a token": { ...good, keys: ["key_1", "a b"] },
    "iat not an integer": { ...good, iat: 1.5 },
    "exp not an integer": { ...good, exp: "soon" },
    "exp not after iat": { ...good, exp: good.iat },
  };
  for (const [what, body] of Object.entries(defects))
    assert.throws(() => inspectCredential(signedBody(body), [authority.publicKey]), code("malformed"), what);
  assert.equal(
    inspectCredential(signedBody({ ...good, name: "n".repeat(100) }), [authority.publicKey]).name.length,
    100,
  );
  assert.equal(
    inspectCredential(signedBody({ ...good, keys: Array.from({ length: 1000 }, (_, i) => `k${i}`) }), [
      authority.publicKey,
    ]).keys.length,
    1000,
  );
});

test("a credential token that is too long or not two base64url parts is malformed", () => {
  const token = issueCredential(authority.seed, { ...good, role: "signer" } as never);
  for (const bad of [`${token}.x`, token.replace(".", ".+"), `+${token}`, `${token}=`, "x".repeat(16_385)])
    assert.throws(() => inspectCredential(bad, [authority.publicKey]), code("malformed"));
  // A token that passed once is still checked against the authorities of each call.
  assert.equal(inspectCredential(token, [authority.publicKey]).sub, client.publicKey);
  assert.throws(() => inspectCredential(token, [createAuthority().publicKey]), code("bad-credential"));
});

test("a credential expires at its exp second exactly", () => {
  const token = issueCredential(authority.seed, { ...good } as never);
  verifyCredential(token, [authority.publicKey], good.exp * 1000 - 1);
  assert.throws(() => verifyCredential(token, [authority.publicKey], good.exp * 1000), code("expired"));
});

test("request headers: repeated, or a timestamp or nonce of the wrong form, is malformed; the skew bound is inclusive", () => {
  const credential = issueCredential(authority.seed, { ...good } as never);
  const body = new Uint8Array();
  const h = signRequest(client.seed, credential, "GET", "/v1/keys", body, now);
  const read = (headers: Record<string, string | string[]>) =>
    requestFromHeaders(headers, "GET", "/v1/keys", body);
  assert.throws(
    () => read({ ...h, "custody-nonce": [h["custody-nonce"]!, h["custody-nonce"]!] }),
    code("malformed"),
  );
  for (const t of ["", "12a", "x123", "123x", "1".repeat(16)])
    assert.throws(() => read({ ...h, "custody-timestamp": t }), code("malformed"), t);
  for (const n of ["ab".repeat(15), `${"ab".repeat(16)}0`, `0${"ab".repeat(16)}`, "AB".repeat(16)])
    assert.throws(() => read({ ...h, "custody-nonce": n }), code("malformed"), n);
  const req = read(h);
  verifyRequest(req, [authority.publicKey], 60_000, now + 60_000);
  assert.throws(() => verifyRequest(req, [authority.publicKey], 60_000, now + 60_001), code("stale"));
  assert.throws(
    () => verifyRequest({ ...req, signature: "%%%" }, [authority.publicKey], 60_000, now),
    (e: unknown) => e instanceof AuthError,
  );
});
