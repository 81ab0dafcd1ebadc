/**
 * The operator console in the HTTP app: its page and assets are public and served with a strict
 * policy (same-origin scripts and styles only, no inline script, never framed or cached, no
 * sniffing); nothing else under /console is open; GET /v1/status refuses unsigned and signer
 * callers and shows auditors the tenant's parties, workers and audit chain; the browser module's
 * signer reproduces the spec's test vectors and is accepted by the API; the status lists at most
 * MAX_STATUS_WORKERS workers, live ones first; the audit watch resumes, reports a break for good
 * and reads as unavailable when the stream cannot be read; against a real nats-server, a stream
 * deleted and recreated (shorter, or as long) reads as broken, never intact, and a stopped server
 * reads as unavailable, then intact once it is back.
 */
import assert from "node:assert/strict";
import type { webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createAuthority, createClientKey, issueCredential, signRequest } from "@custody/credentials";
import { NatsServer } from "@custody/natsd";
import { AUDIT_STREAM } from "@custody/proto";
import {
  type AuditCursor,
  AuditLog,
  type AuditRangeVerification,
  provisionControl,
  type WorkerSighting,
} from "@custody/runtime";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { FastifyInstance } from "fastify";
import { AuditWatch } from "../src/domain/audit-watch.js";
import { CONSOLE_CSP } from "../src/http/routes/console.js";
import { MAX_STATUS_WORKERS } from "../src/http/routes/console-status.js";
import { appUnderTest } from "./app-under-test.js";

const authority = createAuthority();
const clientKey = createClientKey();
const now = Math.floor(Date.now() / 1000);
const credentialOf = (role: "admin" | "signer" | "auditor") =>
  issueCredential(authority.seed, {
    sub: clientKey.publicKey,
    name: `console-${role}`,
    role,
    tenant: "acme",
    keys: role === "signer" ? [] : ["*"],
    iat: now - 10,
    exp: now + 3600,
  });

/** The browser module, run in Node (WebCrypto is the same API). */
interface SignModule {
  signingKey(seed: string): Promise<webcrypto.CryptoKey>;
  signedHeaders(
    session: { credential: string; key: webcrypto.CryptoKey },
    target: string,
    timestamp?: number,
    nonce?: string,
  ): Promise<Record<string, string>>;
  getRequestBytes(credential: string, target: string, timestamp: number, nonce: string): Promise<Uint8Array>;
  isCanonical(target: string): boolean;
  claimsOf(credential: string): { role: string; tenant: string; name: string };
}
const sign = (await import(new URL("../../src/console/sign.js", import.meta.url).href)) as SignModule;
const vectors = JSON.parse(
  readFileSync(new URL("../../../../docs/api-auth-vectors.json", import.meta.url), "utf8"),
);

const tenantsAsked: string[] = [];
const sightings: WorkerSighting[] = [
  {
    party: 2,
    workerId: "party2-w1",
    lastSeenMs: Date.now() - 60_000,
    intervalMs: 500,
    activeSessions: 0,
    tenants: ["acme"],
  },
  {
    party: 1,
    workerId: "party1-w2",
    lastSeenMs: Date.now(),
    // live for 3 minutes, however slowly the tests before run
    intervalMs: 60_000,
    activeSessions: 0,
    tenants: ["acme"],
  },
  {
    party: 1,
    workerId: "party1-w1",
    lastSeenMs: Date.now(),
    // live for 3 minutes, however slowly the tests before run
    intervalMs: 60_000,
    activeSessions: 3,
    tenants: ["acme"],
  },
];
const audit = {
  append: async () => {},
  verify: async (): Promise<AuditRangeVerification> => ({
    entries: 7,
    cursor: { seq: 7, hash: "ab".repeat(32), entries: 7 },
    lastSeq: 7,
  }),
} as unknown as AuditLog;

let app: FastifyInstance;
before(async () => {
  app = await appUnderTest({
    auth: {
      authorities: [authority.publicKey],
      nonces: { remember: async () => true },
      revocations: { isRevoked: async () => false, revoke: async () => ({}) as never },
    },
    audit,
    deadLetters: {
      list: () => [],
      operations: () => ({ operations: [] }),
      isPending: () => false,
      onSettled: () => {},
      workers: (tenant) => {
        tenantsAsked.push(tenant);
        return sightings;
      },
    },
  });
});
after(() => app?.close());

const signed = (path: string, role: "admin" | "signer" | "auditor") =>
  signRequest(clientKey.seed, credentialOf(role), "GET", path, new Uint8Array());

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await app.inject({ method: "GET", url: path, headers });
  return { status: r.statusCode, headers: r.headers, text: r.body };
}

describe("the console page", { timeout: 30_000 }, () => {
  test("page, scripts, style and icon are public and served under a strict policy", async () => {
    const assets = {
      "/console": /^text\/html/,
      "/console/console.js": /^text\/javascript/,
      "/console/sign.js": /^text\/javascript/,
      "/console/console.css": /^text\/css/,
      "/console/favicon.svg": /^image\/svg\+xml/,
    };
    for (const [path, type] of Object.entries(assets)) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers["content-type"]), type, path);
      assert.equal(r.headers["content-security-policy"], CONSOLE_CSP, path);
      assert.equal(r.headers["cache-control"], "no-store", path);
      assert.equal(r.headers["x-content-type-options"], "nosniff", path);
      assert.equal(r.headers["x-frame-options"], "DENY", path);
      assert.equal(r.headers["referrer-policy"], "no-referrer", path);
    }
    const csp = CONSOLE_CSP.split("; ");
    for (const d of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ])
      assert.ok(csp.includes(d), d);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe|\*|data:|http/);
    const html = (await get("/console")).text;
    assert.match(html, /<script type="module" src="\/console\/console\.js"><\/script>/);
    // Nothing inline for the policy to have to allow: no script body, no style, no handler.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  });

  test("nothing else under /console is open", async () => {
    for (const path of ["/console/", "/console/index.html", "/console/../v1/status", "/consoles"]) {
      const r = await get(path);
      assert.equal(r.status, 401, path);
      assert.equal(JSON.parse(r.text).reason, "missing", path);
    }
  });
});

describe("GET /v1/status", { timeout: 30_000 }, () => {
  test("refuses unsigned and signer callers, as the dead-letter view does", async () => {
    const unsigned = await get("/v1/status");
    assert.equal(unsigned.status, 401);
    assert.equal(JSON.parse(unsigned.text).type, "urn:custody:problem:unauthorized");
    for (const path of ["/v1/status", "/v1/dead-letters"]) {
      const r = await get(path, signed(path, "signer"));
      assert.equal(r.status, 403, path);
      assert.equal(JSON.parse(r.text).type, "urn:custody:problem:forbidden", path);
    }
  });

  test("shows auditors and admins the tenant's parties, workers and audit chain", async () => {
    for (const role of ["auditor", "admin"] as const) {
      tenantsAsked.length = 0;
      const r = await get("/v1/status", signed("/v1/status", role));
      assert.equal(r.status, 200, r.text);
      const body = JSON.parse(r.text);
      assert.deepEqual(tenantsAsked, ["acme"]);
      assert.equal(body.ready, true);
      assert.deepEqual(body.parties, [
        { party: 1, live: true, liveWorkers: 2 },
        { party: 2, live: false, liveWorkers: 0 },
      ]);
      assert.deepEqual(
        body.workers.map((w: { workerId: string; live: boolean; activeSessions: number }) => [
          w.workerId,
          w.live,
          w.activeSessions,
        ]),
        [
          ["party1-w1", true, 3],
          ["party1-w2", true, 0],
          ["party2-w1", false, 0],
        ],
      );
      assert.equal(body.audit.status, "intact");
      assert.equal(body.audit.entries, 7);
      assert.equal(body.audit.verified, 7);
      assert.equal(body.omittedWorkers, undefined);
    }
  });

  test("lists at most MAX_STATUS_WORKERS workers, live ones and the most recently heard first", async () => {
    const extra = 100;
    const flood = Array.from({ length: MAX_STATUS_WORKERS + extra }, (_, i) => ({
      party: 3,
      workerId: `flood-${String(i).padStart(4, "0")}`,
      lastSeenMs: Date.now() - 120_000 - i,
      intervalMs: 500,
      activeSessions: 0,
      tenants: ["acme"],
    }));
    sightings.push(...flood);
    try {
      const r = await get("/v1/status", signed("/v1/status", "auditor"));
      assert.equal(r.status, 200, r.text);
      const body = JSON.parse(r.text);
      assert.equal(body.workers.length, MAX_STATUS_WORKERS);
      assert.equal(body.omittedWorkers, 3 + flood.length - MAX_STATUS_WORKERS);
      const ids = body.workers.map((w: { workerId: string }) => w.workerId);
      for (const id of ["party1-w1", "party1-w2", "party2-w1", "flood-0000"]) assert.ok(ids.includes(id), id);
      assert.ok(!ids.includes(`flood-${MAX_STATUS_WORKERS + extra - 1}`), "the longest silent is left out");
      assert.deepEqual(body.parties.at(-1), { party: 3, live: false, liveWorkers: 0 });
    } finally {
      sightings.splice(3);
    }
  });
});

describe("the console's browser signer", { timeout: 30_000 }, () => {
  test("reproduces the spec's request vector and canonical targets", async () => {
    const v = vectors.requests[0];
    assert.equal(v.method, "GET");
    const bytes = await sign.getRequestBytes(
      vectors.credential.credential,
      v.canonicalTarget,
      v.timestampMs,
      v.nonce,
    );
    assert.equal(Buffer.from(bytes).toString("hex"), v.signedBytes);
    const key = await sign.signingKey(vectors.keys.clientSeed);
    assert.equal(key.extractable, false);
    const headers = await sign.signedHeaders(
      { credential: vectors.credential.credential, key },
      v.canonicalTarget,
      v.timestampMs,
      v.nonce,
    );
    assert.equal(headers["custody-signature"], v.signature);
    assert.equal(headers["custody-timestamp"], String(v.timestampMs));
    for (const c of vectors.canonicalTargets) {
      assert.equal(sign.isCanonical(c.canonical), true, c.canonical);
      assert.equal(sign.isCanonical(c.target), c.target === c.canonical, c.target);
    }
    await assert.rejects(
      sign.signedHeaders({ credential: "x", key }, "/v1/keys/%6b"),
      /not a canonical target/,
    );
    assert.equal(sign.claimsOf(vectors.credential.credential).role, "admin");
  });

  test("takes client seeds only", async () => {
    await assert.rejects(sign.signingKey(vectors.keys.authoritySeed), /not a client seed/);
    const seed: string = vectors.keys.clientSeed;
    const flipped = seed.slice(0, 20) + (seed[20] === "A" ? "B" : "A") + seed.slice(21);
    await assert.rejects(sign.signingKey(flipped), /not a client seed/);
    await assert.rejects(sign.signingKey("SU1"), /not a client seed/);
  });

  test("signs requests the API accepts", async () => {
    const session = { credential: credentialOf("auditor"), key: await sign.signingKey(clientKey.seed) };
    const r = await get("/v1/status", await sign.signedHeaders(session, "/v1/status"));
    assert.equal(r.status, 200, r.text);
    const wrongKey = { ...session, key: await sign.signingKey(createClientKey().seed) };
    const refused = await get("/v1/status", await sign.signedHeaders(wrongKey, "/v1/status"));
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.text).reason, "bad-signature");
  });
});

describe("the audit watch", { timeout: 30_000 }, () => {
  const cursor = (seq: number): AuditCursor => ({ seq, hash: String(seq).padStart(64, "0"), entries: seq });

  test("resumes after the last linked entry, says when it is behind, and keeps a break", async () => {
    const calls: [number | undefined, number][] = [];
    const answers: AuditRangeVerification[] = [
      { entries: 2, cursor: cursor(2), lastSeq: 5 },
      { entries: 4, cursor: cursor(4), lastSeq: 5 },
      { entries: 5, cursor: cursor(5), lastSeq: 5 },
      { entries: 5, cursor: cursor(5), lastSeq: 6, brokenAt: 6, reason: "entry hash does not match" },
    ];
    const watch = new AuditWatch(
      async (from, limit) => {
        calls.push([from?.seq, limit]);
        return answers[calls.length - 1]!;
      },
      { batch: 2, maxAgeMs: 0 },
    );
    const [a, b] = await Promise.all([watch.status(), watch.status()]);
    assert.equal(a, b, "one check at a time");
    assert.equal(a.status, "verifying");
    assert.equal((await watch.status()).status, "verifying");
    const intact = await watch.status();
    assert.deepEqual([intact.status, intact.verified, intact.entries], ["intact", 5, 5]);
    const broken = await watch.status();
    assert.deepEqual(
      [broken.status, broken.brokenAt, broken.reason],
      ["broken", 6, "entry hash does not match"],
    );
    assert.equal((await watch.status()).status, "broken", "a break stays reported");
    assert.deepEqual(calls, [
      [undefined, 2],
      [2, 2],
      [4, 2],
      [5, 2],
    ]);
  });

  test("more entries verified than the stream holds is a break, whatever the verifier says", async () => {
    const answers: AuditRangeVerification[] = [
      { entries: 5, cursor: cursor(5), lastSeq: 5 },
      { entries: 5, cursor: cursor(5), lastSeq: 2 },
    ];
    const watch = new AuditWatch(async () => answers.shift()!, { maxAgeMs: 0 });
    assert.equal((await watch.status()).status, "intact");
    const s = await watch.status();
    assert.deepEqual(
      [s.status, s.verified, s.entries, s.brokenAt, s.reason],
      ["broken", 5, 2, 5, "chain shorter than verified"],
    );
  });

  test("serves a fresh status without reading, and reads as unavailable when the stream cannot be read", async () => {
    let reads = 0;
    const watch = new AuditWatch(
      async () => {
        reads++;
        throw new Error("timeout");
      },
      { maxAgeMs: 60_000 },
    );
    const s = await watch.status();
    assert.equal(s.status, "unavailable");
    assert.doesNotMatch(String(s.reason), /timeout/);
    await watch.status();
    assert.equal(reads, 1);
  });
});

describe("the audit watch over a real audit stream", { timeout: 120_000 }, () => {
  let dir: string;
  let server: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "custody-console-audit-"));
    server = await NatsServer.start({ dir });
    nc = await connect({ servers: server.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    js = jetstream(nc, { timeout: 1000 });
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const log = () =>
    new AuditLog(js, (e) => {
      throw e;
    });
  async function append(n: number) {
    const l = log();
    for (let i = 0; i < n; i++)
      await l.append({
        at: new Date().toISOString(),
        kind: "http",
        action: `GET /v1/keys ${i}`,
        result: "200",
      });
  }
  async function recreate() {
    await (await jetstreamManager(nc)).streams.delete(AUDIT_STREAM).catch(() => false);
    await provisionControl(nc);
  }
  const watchOf = () => {
    const l = log();
    return new AuditWatch((from, n) => l.verify(from, n), { maxAgeMs: 0 });
  };
  const seen = (s: { status: string; verified: number; entries: number; reason?: string }) => [
    s.status,
    s.verified,
    s.entries,
    s.reason,
  ];

  test("a stream deleted and recreated shorter reads as broken, not intact", async () => {
    await recreate();
    await append(5);
    const watch = watchOf();
    assert.deepEqual(seen(await watch.status()), ["intact", 5, 5, undefined]);
    await (await jetstreamManager(nc)).streams.delete(AUDIT_STREAM);
    await provisionControl(nc);
    await append(2);
    const s = await watch.status();
    assert.deepEqual(seen(s), ["broken", 5, 2, "chain shorter than verified"]);
    assert.equal(s.brokenAt, 5);
    await append(5);
    assert.equal((await watch.status()).status, "broken", "and stays broken");
  });

  test("a stream recreated with as many entries as were verified reads as broken", async () => {
    await recreate();
    await append(5);
    const watch = watchOf();
    assert.deepEqual(seen(await watch.status()), ["intact", 5, 5, undefined]);
    await recreate();
    await append(5);
    assert.deepEqual(seen(await watch.status()), ["broken", 5, 5, "verified entry replaced"]);
  });

  test("a stopped server reads as unavailable, then intact once it is back", async () => {
    await recreate();
    await append(3);
    const watch = watchOf();
    assert.deepEqual(seen(await watch.status()), ["intact", 3, 3, undefined]);
    await server.stop();
    const down = await watch.status();
    assert.deepEqual([down.status, down.verified], ["unavailable", 3]);
    await server.restart();
    const deadline = Date.now() + 20_000;
    while (
      await nc.flush().then(
        () => false,
        () => true,
      )
    ) {
      assert.ok(Date.now() < deadline, "reconnected");
      await new Promise((r) => setTimeout(r, 100));
    }
    await append(1);
    assert.deepEqual(seen(await watch.status()), ["intact", 4, 4, undefined]);
  });
});
