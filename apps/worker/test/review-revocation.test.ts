/**
 * Adversarial review, party side: a client whose credential was revoked (in the tenant's real
 * revocation bucket on nats-server) re-spells it (unused base64url bits of its signature: same
 * bytes, another credential id) and signs a fresh request with it. The party must refuse the work
 * item before running anything, as it refuses the credential itself.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { credentialId, PermanentFailure, RevocationList } from "@custody/runtime";
import { type JobEnv, runJob } from "../src/jobs.js";
import { Bench, Client, ctxOf, TENANT } from "./harness.js";

let bench: Bench;
let env: JobEnv;
before(async () => {
  bench = await Bench.start([1, 2, 3]);
  const w = await bench.worker(1, randomBytes(32));
  const list = await RevocationList.open(w.nc);
  env = { ...w, isRevoked: (c) => list.isRevoked(c) };
});
after(async () => {
  await env?.nc.close();
  await bench?.stop();
});

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** The same credential with the unused low bit of its last character flipped (same bytes). */
const respell = (t: string) => t.slice(0, -1) + ALPHABET[ALPHABET.indexOf(t.at(-1)!) ^ 1]!;
const refused = (why: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, "unauthorized-request", e.message);
  assert.match(e.message, why);
  return true;
};

test("a party refuses a revoked credential, and its re-spelling, read from the real revocation bucket", async () => {
  const client = bench.client("admin");
  await (await RevocationList.open(bench.broker)).revoke(credentialId(client.credential), "review");
  const item = client.refresh("key_review", "ed25519", 0, [1, 2, 3]);
  await assert.rejects(runJob(env, ctxOf(item)), refused(/revoked/));
  const other = new Client(client.seed, respell(client.credential), TENANT);
  assert.notEqual(credentialId(other.credential), credentialId(client.credential));
  await assert.rejects(
    runJob(env, ctxOf(other.refresh("key_review", "ed25519", 0, [1, 2, 3]))),
    refused(/malformed/),
  );
});
