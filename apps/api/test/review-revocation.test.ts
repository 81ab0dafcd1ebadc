/**
 * Adversarial review: a revoked client re-spells its credential (unused base64url bits of the
 * signature) so that the credential id the revocation list is searched by changes while the
 * signature still verifies. The revocation list stand-in looks ids up exactly as the real one
 * (`chainIds`: the issuer's id and the whole chain's); the API must refuse the re-spelled
 * credential, root or delegated (the admin re-signing a leaf under a re-spelling of its revoked
 * credential is refused by the credentials package: review-credentials.test).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  createAuthority,
  createClientKey,
  delegateCredential,
  issueCredential,
  signRequest,
} from "@custody/credentials";
import { credentialId, type Revocation } from "@custody/runtime";
import type { FastifyInstance } from "fastify";
import type { NonceStore, Revocations } from "../src/http/plugins/auth.js";
import { appUnderTest } from "./app-under-test.js";

const authority = createAuthority();
const admin = createClientKey();
const leafKey = createClientKey();
const now = Math.floor(Date.now() / 1000);
const claims = { name: "r", tenant: "acme", keys: ["*"], iat: now - 10, exp: now + 3600 };
const root = issueCredential(authority.seed, { ...claims, sub: admin.publicKey, role: "admin" });
const leaf = delegateCredential(admin.seed, root, { ...claims, sub: leafKey.publicKey, role: "signer" });

/** The ids RevocationList looks up for a credential: each prefix ending before a `~`, then all of it. */
const chainIds = (credential: string) =>
  credential.split("~").map((_, i, parts) => credentialId(parts.slice(0, i + 1).join("~")));

/** Revocations by id, looked up along the chain as RevocationList does. */
class List implements Revocations {
  readonly ids = new Set<string>();
  async isRevoked(_tenant: string, credential: string): Promise<boolean> {
    return chainIds(credential).some((id) => this.ids.has(id));
  }
  async revoke(): Promise<Revocation> {
    throw new Error("not used");
  }
}
const nonces: NonceStore = { remember: async () => true };
const list = new List();
let app: FastifyInstance;

before(async () => {
  app = await appUnderTest({
    service: { keys: async () => [] } as never,
    auth: { authorities: [authority.publicKey], nonces, revocations: list },
  });
});
after(() => app?.close());

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** The same credential with the unused low bit of its last character flipped (same bytes). */
const respell = (t: string) => t.slice(0, -1) + ALPHABET[ALPHABET.indexOf(t.at(-1)!) ^ 1]!;

async function call(seed: string, credential: string) {
  const headers = signRequest(seed, credential, "GET", "/v1/keys", new Uint8Array());
  const r = await app.inject({ method: "GET", url: "/v1/keys", headers });
  return { status: r.statusCode, body: r.json() as Record<string, unknown> };
}

test("a revoked root credential re-spelled by its holder is still refused", async () => {
  assert.equal((await call(admin.seed, root)).status, 200);
  list.ids.add(credentialId(root));
  try {
    assert.equal((await call(admin.seed, root)).body.reason, "revoked");
    const other = respell(root);
    assert.ok(!chainIds(other).includes(credentialId(root)), "the re-spelling has another id");
    const r = await call(admin.seed, other);
    assert.equal(r.status, 401, JSON.stringify(r.body));
  } finally {
    list.ids.clear();
  }
});

test("a leaf re-spelled, under a revoked issuer or itself revoked, is still refused", async () => {
  assert.equal((await call(leafKey.seed, leaf)).status, 200);
  for (const revoked of [root, leaf]) {
    list.ids.add(credentialId(revoked));
    try {
      assert.equal((await call(leafKey.seed, leaf)).body.reason, "revoked");
      const r = await call(leafKey.seed, respell(leaf));
      assert.equal(r.status, 401, JSON.stringify(r.body));
    } finally {
      list.ids.clear();
    }
  }
});
