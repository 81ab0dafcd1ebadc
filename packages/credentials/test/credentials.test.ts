import assert from "node:assert/strict";
import { test } from "node:test";
import { createUser, fromPublic } from "@nats-io/nkeys";
import {
  AuthError,
  allows,
  createAuthority,
  createClientKey,
  credentialDigest,
  inspectCredential,
  issueCredential,
  requestFromHeaders,
  requestSigningBytes,
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
  // A path that is not in canonical form is refused before any signature check.
  assert.throws(
    () => verifyRequest({ ...req, path: "/v1/keys/key%5F1/sign" }, [authority.publicKey], 60_000, now),
    code("malformed"),
  );
  assert.throws(() => verifyRequest(req, [authority.publicKey], 60_000, now + 61_000), code("stale"));
  assert.throws(() => requestFromHeaders({}, "GET", "/", new Uint8Array()), code("missing"));
  assert.throws(
    () => requestFromHeaders({ ...h, "custody-nonce": "zz" }, "GET", "/", new Uint8Array()),
    code("malformed"),
  );
});

test("a signature does not carry over to another credential of the same client key", () => {
  const signer = issueCredential(authority.seed, claims());
  // Same client key, same tenant, wider rights: the swap must not verify.
  const admin = issueCredential(authority.seed, claims({ role: "admin", keys: ["*"] }));
  const later = issueCredential(authority.seed, claims({ exp: now / 1000 + 7200 }));
  const body = new TextEncoder().encode('{"message":"00"}');
  const h = signRequest(client.seed, signer, "POST", "/v1/keys/key_1/sign", body, now);
  const req = requestFromHeaders(h, "POST", "/v1/keys/key_1/sign", body);
  assert.equal(verifyRequest(req, [authority.publicKey], 60_000, now).role, "signer");
  for (const other of [admin, later]) {
    assert.equal(verifyCredential(other, [authority.publicKey], now).sub, client.publicKey);
    assert.throws(
      () => verifyRequest({ ...req, credential: other }, [authority.publicKey], 60_000, now),
      code("bad-signature"),
    );
  }
  assert.notDeepEqual(credentialDigest(signer), credentialDigest(admin));
});

test("a credential can be inspected after it expired, but not accepted", () => {
  const cred = issueCredential(authority.seed, claims({ iat: 1000, exp: 2000 }));
  assert.equal(inspectCredential(cred, [authority.publicKey]).exp, 2000);
  assert.throws(() => verifyCredential(cred, [authority.publicKey], now), code("expired"));
  assert.throws(() => inspectCredential(cred, [createAuthority().publicKey]), code("bad-credential"));
  const nullClaims = `${Buffer.from("null").toString("base64url")}.${cred.split(".")[1]}`;
  assert.throws(() => inspectCredential(nullClaims, [authority.publicKey]), AuthError);
});

/**
 * The byte-level test vector of docs/api-auth.md: fixed (test-only) authority and client seeds, a
 * fixed credential, timestamp and nonce. Ed25519 is deterministic, so the signature is fixed too.
 */
test("signed request test vector", () => {
  const vector = {
    authoritySeed: "SOACFLVDKNQJZCQWHEKY2QQRG3ZFKXKXOXFN4SFIZH5LCBJC5HRBWCFP3A",
    authority: "OAF3HYCOSCXVSVQSCDFAWNGNEUUVUM5TIEGAQ3FP5R5HYJ2RWLHJCPQQ",
    clientSeed: "SUANJBSKSIIAOQPGDSGNBWRSZZABC34EB3EEVS4PABAXH47P65WTBBM4IY",
    client: "UBJ4XN4SGLG72K4YM5EUSXHROPWLXPS374T2RN4SZBCAOG2K3LDP33OU",
    credential:
      "eyJ2IjoxLCJzdWIiOiJVQko0WE40U0dMRzcySzRZTTVFVVNYSFJPUFdMWFBTMzc0VDJSTjRTWkJDQU9HMkszTERQMzNPVSIsIm5hbWUiOiJ2ZWN0b3IiLCJyb2xlIjoiYWRtaW4iLCJ0ZW5hbnQiOiJkZWZhdWx0Iiwia2V5cyI6WyIqIl0sImlhdCI6MTgwMDAwMDAwMCwiZXhwIjoxOTAwMDAwMDAwfQ.NIC5-zdKlFCfrPY2TJbbxmk40CcY54nwXKDUgdN70akkpEvbIWxIy500EQYPtVRcnT9TdqSXepH8kYTeanrsBA",
    target: "/v1/operations/op_1?wait='5'",
    timestampMs: 1_800_000_000_000,
    nonce: "00112233445566778899aabbccddeeff",
    credentialDigest: "d61d78b1fa9e45f83a61567b2876c54ede0ecda41266448703e3624f96cc1245",
    signedBytes:
      "00000017637573746f64792f687474702d726571756573742f763200000020d61d78b1fa9e45f83a61567b2876c54ede0ecda41266448703e3624f96cc124500000003474554000000202f76312f6f7065726174696f6e732f6f705f313f776169743d2532373525323700000020e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85500000008000001a3185c5000000000203030313132323333343435353636373738383939616162626363646465656666",
    signature: "AWoX2W0yOK8qUmK6fSKyuj-AKC0i36WQyBkRclG3iVNNZc775CErxbr6mvpx8vMKb33IFkrp8T31afDM5ZpoCA",
  };
  const cred = issueCredential(vector.authoritySeed, {
    sub: vector.client,
    name: "vector",
    role: "admin",
    tenant: "default",
    keys: ["*"],
    iat: 1_800_000_000,
    exp: 1_900_000_000,
  });
  assert.equal(cred, vector.credential);
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  assert.equal(hex(credentialDigest(cred)), vector.credentialDigest);
  const bytes = requestSigningBytes(
    cred,
    "get",
    vector.target,
    new Uint8Array(),
    vector.timestampMs,
    vector.nonce,
  );
  assert.equal(hex(bytes), vector.signedBytes);
  assert.equal(Buffer.from(signWithSeed(vector.clientSeed, bytes)).toString("base64url"), vector.signature);
  const received = requestFromHeaders(
    {
      "custody-credential": cred,
      "custody-timestamp": String(vector.timestampMs),
      "custody-nonce": vector.nonce,
      "custody-signature": vector.signature,
    },
    "GET",
    "/v1/operations/op_1?wait=%275%27",
    new Uint8Array(),
  );
  assert.equal(received.path, "/v1/operations/op_1?wait=%275%27");
  assert.equal(verifyRequest(received, [vector.authority], 60_000, vector.timestampMs).name, "vector");
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
