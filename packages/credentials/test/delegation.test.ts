/**
 * Delegated credentials: an authority-issued admin signs a credential for its tenant. Each rule
 * (depth, issuer role, tenant, keys, expiry, the issuer's signature over the exact issuer
 * credential) is refused with its own code, one defect at a time, on tokens signed correctly
 * otherwise (built here without the issuing side's checks). Plus the docs/api-auth.md test vector.
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
  requestFromHeaders,
  signRequest,
  verifyCredential,
  verifyRequest,
} from "../src/index.js";
import { signWithSeed } from "../src/keys.js";

const authority = createAuthority();
const admin = createClientKey();
const leafKey = createClientKey();
const now = 1_800_000_000_000;
const iat = now / 1000 - 10;
const exp = now / 1000 + 3600;
type Claims = Omit<CredentialClaims, "v">;
const rootClaims = (over: Partial<Claims> = {}): Claims => ({
  sub: admin.publicKey,
  name: "admin",
  role: "admin",
  tenant: "acme",
  keys: ["*"],
  iat,
  exp,
  ...over,
});
const leafClaims = (over: Partial<Claims> = {}): Claims => ({
  sub: leafKey.publicKey,
  name: "leaf",
  role: "signer",
  tenant: "acme",
  keys: ["key_1"],
  iat,
  exp: exp - 60,
  ...over,
});
const root = issueCredential(authority.seed, rootClaims());
const trusted = [authority.publicKey];
const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof AuthError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
/** A delegated token signed as the format says, over any claims, with none of the issuer's checks. */
const rawDelegate = (seed: string, parent: string, claims: unknown, parentForId = parent) => {
  const body = new TextEncoder().encode(JSON.stringify({ v: 1, ...(claims as object) }));
  const id = Buffer.from(credentialId(parentForId), "hex");
  const sig = signWithSeed(seed, frame("custody/credential/delegated/v1", [new Uint8Array(id), body]));
  return `${parent}~${b64(body)}.${b64(sig)}`;
};

test("an admin's delegated credential verifies with the leaf's claims, its issuer and its chain ids", () => {
  const token = delegateCredential(admin.seed, root, leafClaims());
  assert.equal(token, rawDelegate(admin.seed, root, leafClaims()));
  const v = verifyCredential(token, trusted, now);
  assert.deepEqual(v, {
    v: 1,
    ...leafClaims(),
    issuer: admin.publicKey,
    chain: [credentialId(root), credentialId(token)],
  });
  const r = verifyCredential(root, trusted, now);
  assert.equal(r.issuer, authority.publicKey);
  assert.deepEqual(r.chain, [credentialId(root)]);
  // Every role may be delegated; the leaf's keys may be any of a wildcard issuer's.
  for (const role of ["admin", "auditor", "signer"] as const)
    assert.equal(
      verifyCredential(delegateCredential(admin.seed, root, leafClaims({ role })), trusted, now).role,
      role,
    );
  assert.deepEqual(
    verifyCredential(delegateCredential(admin.seed, root, leafClaims({ keys: ["*"] })), trusted, now).keys,
    ["*"],
  );
});

test("a delegated credential is refused unless its issuer's root credential is trusted", () => {
  const rogue = createAuthority();
  const foreignRoot = issueCredential(rogue.seed, rootClaims());
  const token = delegateCredential(admin.seed, foreignRoot, leafClaims());
  assert.throws(() => inspectCredential(token, trusted), code("bad-credential"));
  assert.equal(inspectCredential(token, [rogue.publicKey]).sub, leafKey.publicKey);
});

test("a chain deeper than authority → admin → leaf is refused (delegation-depth)", () => {
  const subAdmin = delegateCredential(admin.seed, root, leafClaims({ role: "admin", keys: ["*"] }));
  assert.equal(inspectCredential(subAdmin, trusted).role, "admin");
  const third = createClientKey();
  assert.throws(
    () => delegateCredential(leafKey.seed, subAdmin, leafClaims({ sub: third.publicKey })),
    code("delegation-depth"),
  );
  // Signed as the format would sign a third link, by the delegated admin over its own chain.
  const deep = rawDelegate(leafKey.seed, subAdmin, leafClaims({ sub: third.publicKey }));
  assert.throws(() => inspectCredential(deep, trusted), code("delegation-depth"));
});

test("only an admin issues (delegation-role), for its own tenant (delegation-tenant)", () => {
  for (const role of ["signer", "auditor"] as const) {
    const notAdmin = issueCredential(authority.seed, rootClaims({ role }));
    assert.throws(() => delegateCredential(admin.seed, notAdmin, leafClaims()), code("delegation-role"));
    assert.throws(
      () => inspectCredential(rawDelegate(admin.seed, notAdmin, leafClaims()), trusted),
      code("delegation-role"),
    );
  }
  assert.throws(
    () => delegateCredential(admin.seed, root, leafClaims({ tenant: "other" })),
    code("delegation-tenant"),
  );
  assert.throws(
    () => inspectCredential(rawDelegate(admin.seed, root, leafClaims({ tenant: "other" })), trusted),
    code("delegation-tenant"),
  );
});

test("a delegated credential's keys are a subset of its issuer's (delegation-keys)", () => {
  const limited = issueCredential(authority.seed, rootClaims({ keys: ["key_1", "key_2"] }));
  const ok = (keys: string[]) =>
    inspectCredential(rawDelegate(admin.seed, limited, leafClaims({ keys })), trusted).keys;
  assert.deepEqual(ok(["key_2", "key_1"]), ["key_2", "key_1"]);
  assert.deepEqual(ok([]), []);
  for (const keys of [["key_3"], ["key_1", "key_3"], ["*"]]) {
    assert.throws(
      () => delegateCredential(admin.seed, limited, leafClaims({ keys })),
      code("delegation-keys"),
      keys.join(),
    );
    assert.throws(
      () => inspectCredential(rawDelegate(admin.seed, limited, leafClaims({ keys })), trusted),
      code("delegation-keys"),
      keys.join(),
    );
  }
});

test("a delegated credential expires no later than its issuer (delegation-expiry), and at its own exp", () => {
  const same = delegateCredential(admin.seed, root, leafClaims({ exp }));
  verifyCredential(same, trusted, exp * 1000 - 1);
  assert.throws(() => verifyCredential(same, trusted, exp * 1000), code("expired"));
  assert.throws(
    () => delegateCredential(admin.seed, root, leafClaims({ exp: exp + 1 })),
    code("delegation-expiry"),
  );
  assert.throws(
    () => inspectCredential(rawDelegate(admin.seed, root, leafClaims({ exp: exp + 1 })), trusted),
    code("delegation-expiry"),
  );
  const short = delegateCredential(admin.seed, root, leafClaims({ exp: iat + 5 }));
  assert.equal(inspectCredential(short, trusted).exp, iat + 5);
  assert.throws(() => verifyCredential(short, trusted, now), code("expired"));
});

test("the leaf is signed by its issuer's key over the exact issuer credential", () => {
  const other = createClientKey();
  // Signed by another key than the issuer credential's.
  assert.throws(
    () => inspectCredential(rawDelegate(other.seed, root, leafClaims()), trusted),
    code("bad-credential"),
  );
  assert.throws(() => delegateCredential(other.seed, root, leafClaims()), code("mismatch"));
  // Moved under another credential of the same admin key (same tenant, same rights, later expiry).
  const sibling = issueCredential(authority.seed, rootClaims({ name: "admin-2" }));
  const moved = rawDelegate(admin.seed, sibling, leafClaims(), root);
  assert.throws(() => inspectCredential(moved, trusted), code("bad-credential"));
  // Tampered claims.
  const token = delegateCredential(admin.seed, root, leafClaims());
  const [body, sig] = token.split("~")[1]!.split(".");
  const wider = b64(new TextEncoder().encode(JSON.stringify({ v: 1, ...leafClaims({ role: "admin" }) })));
  assert.notEqual(wider, body);
  assert.throws(() => inspectCredential(`${root}~${wider}.${sig}`, trusted), code("bad-credential"));
});

test("a malformed delegated part or leaf claims are malformed", () => {
  const token = delegateCredential(admin.seed, root, leafClaims());
  const leaf = token.split("~")[1]!;
  for (const bad of [
    `${root}~`,
    `${root}~${leaf}.x`,
    `${root}~${leaf.split(".")[0]}`,
    `${root}~+${leaf}`,
    `~${leaf}`,
  ])
    assert.throws(() => inspectCredential(bad, trusted), code("malformed"), bad.slice(-20));
  assert.throws(
    () => inspectCredential(rawDelegate(admin.seed, root, leafClaims({ role: "root" as never })), trusted),
    code("malformed"),
  );
  assert.throws(
    () => inspectCredential(`${root}~${"x".repeat(16_384 - root.length)}`, trusted),
    code("malformed"),
  );
  assert.throws(() => delegateCredential(admin.seed, "not-a-credential", leafClaims()), code("malformed"));
  // Validly signed leaf bytes that are not JSON.
  const notJson = new TextEncoder().encode("{not json");
  const id = new Uint8Array(Buffer.from(credentialId(root), "hex"));
  const notJsonSig = signWithSeed(admin.seed, frame("custody/credential/delegated/v1", [id, notJson]));
  assert.throws(
    () => inspectCredential(`${root}~${b64(notJson)}.${b64(notJsonSig)}`, trusted),
    code("malformed"),
  );
  assert.throws(
    () => delegateCredential(admin.seed, root, leafClaims({ name: "n".repeat(101) })),
    code("malformed"),
  );
});

test("requests with a delegated credential are signed by the leaf's key", () => {
  const token = delegateCredential(admin.seed, root, leafClaims());
  const body = new TextEncoder().encode('{"message":"00"}');
  const path = "/v1/keys/key_1/sign";
  const req = requestFromHeaders(
    signRequest(leafKey.seed, token, "POST", path, body, now),
    "POST",
    path,
    body,
  );
  const claims = verifyRequest(req, trusted, 60_000, now);
  assert.equal(claims.role, "signer");
  assert.deepEqual(claims.chain, [credentialId(root), credentialId(token)]);
  // The issuer's key does not sign for the leaf.
  const byIssuer = requestFromHeaders(
    signRequest(admin.seed, token, "POST", path, body, now),
    "POST",
    path,
    body,
  );
  assert.throws(() => verifyRequest(byIssuer, trusted, 60_000, now), code("bad-signature"));
});

/** The delegated-credential test vector of docs/api-auth.md (test-only keys; Ed25519 is deterministic). */
test("delegated credential test vector", () => {
  const vector = {
    authority: "OAF3HYCOSCXVSVQSCDFAWNGNEUUVUM5TIEGAQ3FP5R5HYJ2RWLHJCPQQ",
    adminSeed: "SUANJBSKSIIAOQPGDSGNBWRSZZABC34EB3EEVS4PABAXH47P65WTBBM4IY",
    admin: "UBJ4XN4SGLG72K4YM5EUSXHROPWLXPS374T2RN4SZBCAOG2K3LDP33OU",
    issuerCredential:
      "eyJ2IjoxLCJzdWIiOiJVQko0WE40U0dMRzcySzRZTTVFVVNYSFJPUFdMWFBTMzc0VDJSTjRTWkJDQU9HMkszTERQMzNPVSIsIm5hbWUiOiJ2ZWN0b3IiLCJyb2xlIjoiYWRtaW4iLCJ0ZW5hbnQiOiJkZWZhdWx0Iiwia2V5cyI6WyIqIl0sImlhdCI6MTgwMDAwMDAwMCwiZXhwIjoxOTAwMDAwMDAwfQ.NIC5-zdKlFCfrPY2TJbbxmk40CcY54nwXKDUgdN70akkpEvbIWxIy500EQYPtVRcnT9TdqSXepH8kYTeanrsBA",
    issuerId: "f343e488eb035eb10607db8e9670e6114c52d3214f9e72b4049d74c57c08e4f6",
    leafSeed: "SUAMS6F7WIDYZEU7GBFXMCR4NVGSLCRM73327TA64FZHQV5DKYTYVYC2KU",
    leaf: "UBJN65XOR5VW5CRYXMB7ML2CZIBGK4KVUTLJYSU3YTEBSCCVPBYRCVW3",
    claims:
      '{"v":1,"sub":"UBJN65XOR5VW5CRYXMB7ML2CZIBGK4KVUTLJYSU3YTEBSCCVPBYRCVW3","name":"vector-signer","role":"signer","tenant":"default","keys":["key_1"],"iat":1800000000,"exp":1850000000}',
    signedBytes:
      "0000001f637573746f64792f63726564656e7469616c2f64656c6567617465642f763100000020f343e488eb035eb10607db8e9670e6114c52d3214f9e72b4049d74c57c08e4f6000000b57b2276223a312c22737562223a2255424a4e3635584f5235565735435259584d42374d4c32435a4942474b344b5655544c4a5953553359544542534343565042595243565733222c226e616d65223a22766563746f722d7369676e6572222c22726f6c65223a227369676e6572222c2274656e616e74223a2264656661756c74222c226b657973223a5b226b65795f31225d2c22696174223a313830303030303030302c22657870223a313835303030303030307d",
    delegatedPart:
      "eyJ2IjoxLCJzdWIiOiJVQkpONjVYT1I1Vlc1Q1JZWE1CN01MMkNaSUJHSzRLVlVUTEpZU1UzWVRFQlNDQ1ZQQllSQ1ZXMyIsIm5hbWUiOiJ2ZWN0b3Itc2lnbmVyIiwicm9sZSI6InNpZ25lciIsInRlbmFudCI6ImRlZmF1bHQiLCJrZXlzIjpbImtleV8xIl0sImlhdCI6MTgwMDAwMDAwMCwiZXhwIjoxODUwMDAwMDAwfQ.ntYCXLVtwwif4y26O0nPn-gxnUopDaeEet0ZraOZJyBjry-j2qM0W0a-1EZqzEehfeKFCdJsho2taLhLB82JCg",
    id: "80c3da36f05a097ac73510fe41130942c8327af54165d15353f759873a1d56ab",
  };
  const claims = JSON.parse(vector.claims) as CredentialClaims;
  const token = delegateCredential(vector.adminSeed, vector.issuerCredential, claims);
  assert.equal(token, `${vector.issuerCredential}~${vector.delegatedPart}`);
  assert.equal(credentialId(vector.issuerCredential), vector.issuerId);
  assert.equal(credentialId(token), vector.id);
  const body = new TextEncoder().encode(vector.claims);
  const signed = frame("custody/credential/delegated/v1", [Buffer.from(vector.issuerId, "hex"), body]);
  assert.equal(Buffer.from(signed).toString("hex"), vector.signedBytes);
  assert.equal(vector.delegatedPart, `${b64(body)}.${b64(signWithSeed(vector.adminSeed, signed))}`);
  const v = verifyCredential(token, [vector.authority], 1_800_000_000_000);
  assert.equal(v.issuer, vector.admin);
  assert.equal(v.sub, vector.leaf);
  assert.deepEqual(v.chain, [vector.issuerId, vector.id]);
});

test("a credential chain longer than 16,384 characters is malformed, however validly signed", () => {
  const keys = (count: number) =>
    Array.from({ length: count }, (_, i) => `${"k".repeat(60)}${String(i).padStart(4, "0")}`);
  const issuers = Array.from({ length: 100 }, (_, r) =>
    issueCredential(authority.seed, rootClaims({ name: "r".repeat(r + 1) })),
  );
  // The chain's length without signing: issuer "~" base64url(claims) "." 86 signature characters.
  const length = (issuer: string, claims: Claims) =>
    issuer.length + 1 + Math.ceil((JSON.stringify({ v: 1, ...claims }).length * 4) / 3) + 1 + 86;
  let count = 1;
  while (length(issuers[0]!, leafClaims({ keys: keys(count + 1), name: "n" })) <= 16_300) count++;
  let exact: string | undefined;
  for (const issuer of issuers)
    for (let n = 1; n <= 100 && !exact; n++) {
      const claims = leafClaims({ keys: keys(count), name: "n".repeat(n) });
      if (length(issuer, claims) === 16_384) exact = delegateCredential(admin.seed, issuer, claims);
    }
  assert.equal(exact?.length, 16_384);
  assert.equal(inspectCredential(exact!, trusted).keys.length, count);
  const over = delegateCredential(admin.seed, issuers[0]!, leafClaims({ keys: keys(count + 3) }));
  assert.ok(over.length > 16_384);
  assert.throws(() => inspectCredential(over, trusted), code("malformed"));
  assert.throws(() => inspectCredential(5 as never, trusted), code("malformed"));
});
