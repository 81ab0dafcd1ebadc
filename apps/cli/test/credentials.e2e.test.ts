/**
 * Delegated credentials through the whole stack: `custody credentials issue` makes a client key
 * locally, signs its credential with the admin's own key and registers it; the new profile works
 * at once; `custody credentials list` shows it; the API refuses registrations that break the rules.
 * Revoking the issuing admin's credential revokes what it issued: the API answers 401 `revoked`, and
 * the parties refuse a work item carrying the leaf's signed request, published directly with the
 * API's own NATS identity (as a compromised API would).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { operationIdOf } from "@custody/core";
import {
  createClientKey,
  credentialId,
  delegateCredential,
  issueCredential,
  publicKeyOfSeed,
  signRequest,
  verifyCredential,
} from "@custody/credentials";
import {
  ClientRequestSchema,
  create,
  fromBinary,
  RESULT_STREAM,
  requestSubject,
  resultSubject,
  SignWorkSchema,
  toBinary,
  WorkItemSchema,
  WorkResultSchema,
} from "@custody/proto";
import { ApiProblem, CustodyClient } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { authorityPublicPath, authoritySeedPath, readAuthorities } from "../src/dev-authority.js";
import { CLI_MAIN, issueClient, type LoadedClient, type Stack } from "../src/index.js";
import { adminConnection, apiConnection } from "./broker.js";
import { startTestStack, stopTestStack, verifyEd25519 } from "./helpers.js";

const TIMEOUT = { timeout: 240_000 };
let stack: Stack | undefined;
let root: CustodyClient;
let apiNats: NatsConnection;
let adminNats: NatsConnection;
let keyId: string;
let keyPublic: string;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  root = new CustodyClient(stack.apiUrl, stack.admin);
  apiNats = await apiConnection(stack!);
  adminNats = await adminConnection(stack);
  const op = await root.wait(await root.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 120_000);
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  keyId = op.keyId;
  keyPublic = (await root.getKey(keyId)).publicKey!;
}, TIMEOUT);
after(async () => {
  await apiNats?.close();
  await adminNats?.close();
  await stopTestStack(stack);
});

const profile = () => join(stack!.options.dir, "profile.json");
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8" });
/** A root (authority-issued) client of a tenant, written to the stack's creds folder. */
const rootClient = (name: string, role: "admin" | "signer" | "auditor", tenant = "default"): LoadedClient => {
  const dir = stack!.options.dir;
  return issueClient(
    dir,
    {
      seedFile: join(dir, "creds", `client-${name}.nk`),
      credentialFile: join(dir, "creds", `client-${name}.cred`),
    },
    { name, role, tenant, keys: role === "signer" ? ["*"] : undefined },
  );
};
const as = (c: LoadedClient) => new CustodyClient(stack!.apiUrl, c);
/** A credential for a new key, delegated by `issuer`; returns the key's identity. */
const delegate = (
  issuer: LoadedClient,
  role: "admin" | "signer" | "auditor",
  keys: string[],
  name: string = role,
  exp = Math.floor(Date.now() / 1000) + 3600,
) => {
  const k = createClientKey();
  const iat = exp - 3700;
  const credential = delegateCredential(issuer.seed, issuer.credential, {
    sub: k.publicKey,
    name,
    role,
    tenant: "default",
    keys,
    iat,
    exp,
  });
  return { seed: k.seed, credential };
};
/** Resolves to the problem a call is refused with: status, type code and reason. */
async function problem(p: Promise<unknown>): Promise<{ status: number; code?: string; reason?: unknown }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApiProblem, `expected a problem, got ${String(e)}`);
  return { status: e.status, code: e.body.type as string, reason: e.body.reason };
}
const urn = (c: string) => `urn:custody:problem:${c}`;

test(
  "custody credentials issue: a local key pair, a credential delegated by the admin, registered and usable",
  TIMEOUT,
  async () => {
    const out = join(stack!.options.dir, "issued-signer");
    const r = cli(
      "credentials",
      "issue",
      "--role",
      "signer",
      "--keys",
      keyId,
      "--ttl",
      "2h",
      "--name",
      "e2e-signer",
      "--out",
      out,
      "--profile",
      profile(),
      "--json",
    );
    assert.equal(r.status, 0, r.stderr);
    const issued = JSON.parse(r.stdout) as {
      id: string;
      issuer: string;
      subject: string;
      role: string;
      keys: string[];
      expiresAt: string;
      files: { seedFile: string; credentialFile: string; profile: string };
    };
    const seed = readFileSync(issued.files.seedFile, "utf8").trim();
    const credential = readFileSync(issued.files.credentialFile, "utf8").trim();
    assert.equal(statSync(issued.files.seedFile).mode & 0o777, 0o600);
    assert.equal(issued.id, credentialId(credential));
    assert.equal(issued.subject, publicKeyOfSeed(seed));
    assert.equal(issued.issuer, publicKeyOfSeed(stack!.admin.seed));
    assert.deepEqual([issued.role, issued.keys], ["signer", [keyId]]);
    assert.ok(Math.abs(Date.parse(issued.expiresAt) - Date.now() - 2 * 3600_000) < 120_000);
    const authorities = readAuthorities(authorityPublicPath(stack!.options.dir));
    const v = verifyCredential(credential, authorities);
    assert.deepEqual(v.chain, [credentialId(stack!.admin.credential), issued.id]);
    // Its profile signs right away, through the CLI: a granted key signs.
    const signed = cli(
      "sign",
      "--key",
      keyId,
      "--message",
      "ab".repeat(16),
      "--json",
      "--profile",
      issued.files.profile,
    );
    assert.equal(signed.status, 0, signed.stderr);
    assert.ok(
      verifyEd25519(
        keyPublic,
        Buffer.from("ab".repeat(16), "hex"),
        (JSON.parse(signed.stdout) as { signature: string }).signature,
      ),
    );
    // The list shows it and its issuer's credential, registered with it.
    const listed = cli("credentials", "list", "--json", "--profile", profile());
    assert.equal(listed.status, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { id: string; issuer: string; revoked?: unknown }[];
    const mine = list.find((c) => c.id === issued.id);
    assert.ok(mine && !mine.revoked);
    assert.ok(
      list.some((c) => c.id === credentialId(stack!.admin.credential) && authorities.includes(c.issuer)),
    );
    const table = cli("credentials", "list", "--profile", profile());
    assert.match(table.stdout, /e2e-signer/);
    // An admin may not hand out more than it holds: a ttl beyond its own credential is refused locally.
    const long = cli(
      "credentials",
      "issue",
      "--role",
      "auditor",
      "--ttl",
      "9999d",
      "--out",
      join(out, "x"),
      "--profile",
      profile(),
    );
    assert.notEqual(long.status, 0);
    assert.match(long.stderr, /outlive/);
    // The operator path: a root credential signed with the authority seed, registered too.
    const op = cli(
      "credentials",
      "issue",
      "--role",
      "auditor",
      "--out",
      join(stack!.options.dir, "issued-auditor"),
      "--authority-seed",
      authoritySeedPath(stack!.options.dir),
      "--profile",
      profile(),
      "--json",
    );
    assert.equal(op.status, 0, op.stderr);
    assert.ok(authorities.includes((JSON.parse(op.stdout) as { issuer: string }).issuer));
  },
);

test("registration and listing refuse what breaks the rules", TIMEOUT, async () => {
  const signer = rootClient("reg-signer", "signer");
  const auditor = rootClient("reg-auditor", "auditor");
  const otherAdmin = rootClient("reg-admin-2", "admin");
  const leaf = delegate(stack!.admin, "auditor", ["*"]);
  // Only admins register; admins and auditors list.
  assert.deepEqual(await problem(as(signer).registerCredential(leaf.credential)), {
    status: 403,
    code: urn("forbidden"),
    reason: undefined,
  });
  assert.equal((await problem(as(signer).listCredentials())).status, 403);
  assert.ok(Array.isArray(await as(auditor).listCredentials()));
  // A delegated credential is registered by the admin whose credential issued it.
  const p = await problem(as(otherAdmin).registerCredential(leaf.credential));
  assert.deepEqual(p, { status: 403, code: urn("forbidden"), reason: "not-issuer" });
  const created = await root.registerCredential(leaf.credential);
  assert.equal(created.id, credentialId(leaf.credential));
  assert.equal((await root.registerCredential(leaf.credential)).id, created.id);
  // Not a credential the API accepts: the reason is the credential's refusal code.
  const forged = `${leaf.credential.slice(0, -4)}AAAA`;
  assert.deepEqual(await problem(root.registerCredential(forged)), {
    status: 400,
    code: urn("invalid-request"),
    reason: "bad-credential",
  });
  const lapsed = delegate(stack!.admin, "signer", [], "lapsed", Math.floor(Date.now() / 1000) - 60);
  assert.equal((await problem(root.registerCredential(lapsed.credential))).reason, "expired");
  // Another tenant's credential.
  const foreign = issueCredential(readFileSync(authoritySeedPath(stack!.options.dir), "utf8"), {
    sub: createClientKey().publicKey,
    name: "foreign",
    role: "auditor",
    tenant: "othertenant",
    keys: [],
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 600,
  });
  assert.deepEqual(await problem(root.registerCredential(foreign)), {
    status: 403,
    code: urn("forbidden"),
    reason: "other-tenant",
  });
  // A delegated credential authenticates only as what it grants: an auditor cannot sign.
  assert.equal((await problem(as(leaf).sign(keyId, { message: "00" }))).status, 403);
});

/** Every party's result for operation `id`, waiting until each answered. */
async function resultsOf(id: string, parties: number[]) {
  const stream = await jetstream(adminNats).streams.get(RESULT_STREAM);
  const out = new Map<number, ReturnType<typeof fromBinary<typeof WorkResultSchema>>>();
  const deadline = Date.now() + 60_000;
  while (out.size < parties.length) {
    assert.ok(Date.now() < deadline, `every party answered ${id} (got ${[...out.keys()]})`);
    for (const p of parties) {
      if (out.has(p)) continue;
      const m = await stream.getMessage({ last_by_subj: resultSubject(id, p) }).catch(() => null);
      if (m) out.set(p, fromBinary(WorkResultSchema, m.data));
    }
    if (out.size < parties.length) await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

/** Publishes, as the API's NATS identity, a sign work item carrying a request the client signed. */
async function publishSign(c: LoadedClient, message: string): Promise<string> {
  const path = `/v1/keys/${keyId}/sign`;
  const bytes = new TextEncoder().encode(JSON.stringify({ message }));
  const h = signRequest(c.seed, c.credential, "POST", path, bytes);
  const request = create(ClientRequestSchema, {
    credential: c.credential,
    method: "POST",
    path,
    body: bytes,
    timestampMs: BigInt(h["custody-timestamp"]!),
    nonce: h["custody-nonce"],
    signature: h["custody-signature"],
  });
  const id = operationIdOf({ tenant: "default", credential: c.credential, nonce: request.nonce });
  const item = create(WorkItemSchema, {
    operationId: id,
    keyId,
    scheme: "ed25519",
    tenant: "default",
    createdAtMs: BigInt(Date.now()),
    client: request,
    op: {
      case: "sign",
      value: create(SignWorkSchema, { epoch: 0, signers: [1, 2], message: Buffer.from(message, "hex") }),
    },
  });
  await jetstream(apiNats).publish(requestSubject("sign", id), toBinary(WorkItemSchema, item), { msgID: id });
  return id;
}

test(
  "revoking the issuing admin revokes its delegated credentials at the API (401 revoked) and at every party",
  TIMEOUT,
  async () => {
    const issuer = rootClient("issuing-admin", "admin");
    const leaf = delegate(issuer, "signer", [keyId], "leaf-signer");
    const subAdmin = delegate(issuer, "admin", ["*"], "leaf-admin");
    const sibling = delegate(stack!.admin, "signer", [keyId], "sibling");
    await as(issuer).registerCredential(leaf.credential);
    // Before: the leaf signs through the API, and a work item it signed, published directly, too.
    const before = await as(leaf).wait(await as(leaf).sign(keyId, { message: "01".repeat(16) }), 60_000);
    assert.equal(before.status, "succeeded", JSON.stringify(before.error));
    const direct = await publishSign(leaf, "02".repeat(16));
    for (const [party, r] of await resultsOf(direct, [1, 2]))
      assert.equal(r.outcome.case, "signature", `party ${party}`);

    await root.revokeCredential({ credential: issuer.credential }, "admin left");
    for (const c of [issuer, leaf, subAdmin]) {
      const p = await problem(as(c).listKeys());
      assert.deepEqual([p.status, p.reason], [401, "revoked"]);
    }
    // A leaf of another admin is untouched.
    assert.ok(Array.isArray(await as(sibling).listKeys()));
    // The registry shows the leaf revoked through its issuer.
    const shown = (await root.listCredentials()).find((c) => c.id === credentialId(leaf.credential));
    assert.equal(shown?.revoked?.reason, "issuer revoked: admin left");
    // The parties refuse a work item carrying the leaf's (validly signed) request.
    const refused = await publishSign(leaf, "03".repeat(16));
    for (const [party, r] of await resultsOf(refused, [1, 2])) {
      assert.equal(r.outcome.case, "failure", `party ${party}`);
      const f = r.outcome.value as { code: string; message: string };
      assert.deepEqual(
        [f.code, f.message],
        ["unauthorized-request", "client request refused: revoked"],
        `party ${party}`,
      );
    }
  },
);
