import assert from "node:assert/strict";
import { test } from "node:test";
import { createUser, fromPublic } from "@nats-io/nkeys";
import {
  AuthError,
  allows,
  createAuthority,
  createClientKey,
  issueCredential,
  requestFromHeaders,
  signRequest,
  verifyCredential,
  verifyRequest,
} from "../src/index.js";
import { signWithSeed, verifyWithPublicKey } from "../src/keys.js";

const authority = createAuthority();
const client = createClientKey();
const now = 1_800_000_000_000;
const claims = (over: Record<string, unknown> = {}) => ({
  sub: client.publicKey,
  name: "c",
  role: "signer" as const,
  tenant: "acme",
  keys: ["key_1"],
  iat: now / 1000 - 10,
  exp: now / 1000 + 3600,
  ...over,
});
const code = (c: string) => (e: unknown) => e instanceof AuthError && e.code === c;

test("credentials verify only under their authority, unexpired and untampered", () => {
  const cred = issueCredential(authority.seed, claims());
  assert.equal(verifyCredential(cred, [authority.publicKey], now).tenant, "acme");
  assert.throws(() => verifyCredential(cred, [createAuthority().publicKey], now), code("bad-credential"));
  assert.throws(() => verifyCredential(cred, [authority.publicKey], now + 3_700_000), code("expired"));
  const [body, sig] = cred.split(".");
  const widened = Buffer.from(JSON.stringify({ ...claims(), role: "admin", v: 1 })).toString("base64url");
  assert.throws(
    () => verifyCredential(`${widened}.${sig}`, [authority.publicKey], now),
    code("bad-credential"),
  );
  for (const bad of ["", "x", `${body}`, `${body}.${sig}.x`, `${body}.!!`])
    assert.throws(() => verifyCredential(bad, [authority.publicKey], now), AuthError);
  assert.throws(() => issueCredential(authority.seed, claims({ role: "root" })), code("malformed"));
  assert.throws(() => issueCredential(authority.seed, claims({ tenant: "a.b" })), code("malformed"));
});

test("signed requests bind method, path, body, time and nonce", () => {
  const cred = issueCredential(authority.seed, claims());
  const body = new TextEncoder().encode('{"message":"00"}');
  const h = signRequest(client.seed, cred, "POST", "/v1/keys/key_1/sign", body, now);
  const req = requestFromHeaders(h, "POST", "/v1/keys/key_1/sign", body);
  assert.equal(verifyRequest(req, [authority.publicKey], 60_000, now).sub, client.publicKey);
  const variants = [
    { ...req, method: "PUT" },
    { ...req, path: "/v1/keys/key_2/sign" },
    { ...req, body: new TextEncoder().encode('{"message":"01"}') },
    { ...req, timestampMs: now + 1 },
    { ...req, nonce: "0".repeat(32) },
  ];
  for (const v of variants)
    assert.throws(() => verifyRequest(v, [authority.publicKey], 60_000, now), code("bad-signature"));
  assert.throws(() => verifyRequest(req, [authority.publicKey], 60_000, now + 61_000), code("stale"));
  assert.throws(() => requestFromHeaders({}, "GET", "/", new Uint8Array()), code("missing"));
  assert.throws(
    () => requestFromHeaders({ ...h, "custody-nonce": "zz" }, "GET", "/", new Uint8Array()),
    code("malformed"),
  );
});

test("roles: admin everything, signer only granted keys, auditor read only", () => {
  const c = (role: "admin" | "signer" | "auditor", keys: string[] = []) =>
    ({ ...claims({ role, keys }), v: 1 }) as Parameters<typeof allows>[0];
  assert.ok(allows(c("admin"), { kind: "create-key" }));
  assert.ok(allows(c("signer", ["key_1"]), { kind: "sign", keyId: "key_1" }));
  assert.ok(!allows(c("signer", ["key_1"]), { kind: "sign", keyId: "key_2" }));
  assert.ok(allows(c("signer", ["*"]), { kind: "sign", keyId: "key_2" }));
  assert.ok(!allows(c("signer", ["*"]), { kind: "refresh", keyId: "key_2" }));
  assert.ok(allows(c("auditor"), { kind: "read" }));
  assert.ok(!allows(c("auditor"), { kind: "sign", keyId: "key_1" }));
});

test("NKey signatures made with noble interoperate with the NKey library both ways", () => {
  const kp = createUser();
  const seed = new TextDecoder().decode(kp.getSeed());
  const msg = new TextEncoder().encode("interop");
  assert.ok(fromPublic(kp.getPublicKey()).verify(msg, signWithSeed(seed, msg)));
  assert.ok(verifyWithPublicKey(kp.getPublicKey(), msg, kp.sign(msg)));
  assert.ok(!verifyWithPublicKey(kp.getPublicKey(), new TextEncoder().encode("other"), kp.sign(msg)));
  assert.ok(!verifyWithPublicKey("UNOTAKEY", msg, kp.sign(msg)));
});
