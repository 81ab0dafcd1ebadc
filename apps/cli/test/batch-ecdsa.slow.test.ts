/**
 * An ECDSA signing batch through the real stack (slow suite: the DKG costs ~10 s CPU): digests
 * with and without paths, each signature verified by libsecp256k1 (strict low-s); a batch over the
 * ECDSA bound and a message that is not a digest are refused. The session runs in a worker thread.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { signRequest } from "@custody/credentials";
import { CustodyClient } from "@custody/sdk";
import * as ecc from "tiny-secp256k1";
import type { Stack } from "../src/index.js";
import { startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(() => stopTestStack(stack));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

async function expectInvalid(path: string, body: unknown, detail: RegExp) {
  const text = JSON.stringify(body);
  const auth = signRequest(
    stack!.admin.seed,
    stack!.admin.credential,
    "POST",
    path,
    new TextEncoder().encode(text),
  );
  const res = await fetch(`${stack!.apiUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: text,
  });
  const problem = (await res.json()) as { type: string; detail: string };
  assert.equal(res.status, 400, JSON.stringify(problem));
  assert.equal(problem.type, "urn:custody:problem:invalid-request");
  assert.match(problem.detail, detail);
}

test("ecdsa-secp256k1: a batch of digests, verified by libsecp256k1 (strict low-s)", {
  timeout: 240_000,
}, async () => {
  const key = await api.createKeyAndWait(
    { scheme: "ecdsa-secp256k1", threshold: 2, parties: 3 },
    { timeoutMs: 120_000 },
  );
  const digests = [0, 1, 2].map((i) => createHash("sha256").update(`withdrawal ${i}`).digest());
  const items = digests.map((d, i) => ({ message: hex(d), path: i === 2 ? "m/44/60/0/0/7" : undefined }));
  const sigs = await api.signBatchAndWait(key.id, { messages: items }, { timeoutMs: 60_000 });
  sigs.forEach((s, i) => {
    assert.ok(
      ecc.verify(digests[i]!, Buffer.from(s.publicKey, "hex"), Buffer.from(s.signature, "hex"), true),
      `signature ${i}`,
    );
  });
  assert.equal(sigs[0]!.publicKey, key.publicKey);
  assert.notEqual(sigs[2]!.publicKey, key.publicKey);
  const path = `/v1/keys/${key.id}/sign`;
  await expectInvalid(
    path,
    { messages: Array.from({ length: 33 }, () => ({ message: hex(digests[0]!) })) },
    /1 to 32/,
  );
  await expectInvalid(
    path,
    { messages: [{ message: hex(digests[0]!) }, { message: "00" }] },
    /^messages\[1\]: .*32-byte/,
  );
});
