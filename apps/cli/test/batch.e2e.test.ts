/**
 * Signing batches through the real stack (API → JetStream → workers → result): one request, one
 * operation and one session sign every message; every signature is checked here with a verifier
 * independent of the protocol code (OpenSSL for Ed25519, libsecp256k1 for BIP340). Bad batches are
 * refused as problem+json before anything is queued. ECDSA batches (a DKG of ~10 s CPU) run
 * through the stack in `batch-ecdsa.slow.test.ts`; `apps/worker/test/batch-session.test.ts`
 * covers them in process.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { signRequest } from "@custody/credentials";
import { CustodyClient } from "@custody/sdk";
import { CLI_MAIN, type Stack } from "../src/index.js";
import { startTestStack, stopTestStack, verifyBip340, verifyEd25519 } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(() => stopTestStack(stack));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

async function post(path: string, body: unknown) {
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
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    body: (await res.json()) as { type: string; detail: string },
  };
}

async function expectInvalid(path: string, body: unknown, detail?: RegExp) {
  const r = await post(path, body);
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.type, /^application\/problem\+json/);
  assert.equal(r.body.type, "urn:custody:problem:invalid-request");
  if (detail) assert.match(r.body.detail, detail);
}

describe("signing batches end to end", { timeout: 240_000 }, () => {
  test("ed25519: 64 messages in one operation, every signature verified by OpenSSL", async () => {
    const key = await api.createKeyAndWait(
      { scheme: "ed25519", threshold: 2, parties: 3 },
      { timeoutMs: 60_000 },
    );
    const messages = Array.from({ length: 64 }, (_, i) => randomBytes(1 + (i % 40)));
    const op = await api.signBatch(key.id, { messages: messages.map((m) => ({ message: hex(m) })) });
    const done = await api.waitForSuccess(op, 60_000);
    assert.equal(done.type, "sign");
    assert.equal(done.signature, undefined);
    const sigs = done.signatures!;
    assert.equal(sigs.length, 64);
    sigs.forEach((s, i) => {
      assert.equal(s.publicKey, key.publicKey);
      assert.equal(s.epoch, key.epoch);
      assert.ok(verifyEd25519(key.publicKey!, messages[i]!, s.signature), `signature ${i}`);
    });
    // Order matters: signature 0 is not over message 1.
    assert.equal(verifyEd25519(key.publicKey!, messages[1]!, sigs[0]!.signature), false);

    // The CLI: `custody sign --batch FILE` prints every signature, in order.
    const file = join(stack!.options.dir, "batch.json");
    writeFileSync(file, JSON.stringify([hex(messages[0]!), { message: `0x${hex(messages[1]!)}` }]));
    const cli = spawnSync(
      process.execPath,
      [
        CLI_MAIN,
        "sign",
        "--key",
        key.id,
        "--batch",
        file,
        "--json",
        "--profile",
        join(stack!.options.dir, "profile.json"),
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { signatures: { signature: string }[] };
    assert.equal(printed.signatures.length, 2);
    printed.signatures.forEach((s, i) => {
      assert.ok(verifyEd25519(key.publicKey!, messages[i]!, s.signature), `CLI signature ${i}`);
    });

    const path = `/v1/keys/${key.id}/sign`;
    await expectInvalid(path, { messages: [] });
    await expectInvalid(path, { messages: Array.from({ length: 257 }, () => ({ message: "00" })) });
    await expectInvalid(path, { message: "00", messages: [{ message: "00" }] }, /either message or messages/);
    await expectInvalid(path, {}, /either message or messages/);
    await expectInvalid(path, { messages: [{ message: "00" }, { message: "0g" }] });
    await expectInvalid(
      path,
      { messages: [{ message: "00" }, { message: "01", path: "m/1" }] },
      /^messages\[1\]: /,
    );
    await expectInvalid(path, { messages: [{ message: "00" }], path: "m/1" }, /own path/);
  });

  test("bip340: a Taproot batch with a path per message, verified by libsecp256k1", async () => {
    const key = await api.createKeyAndWait(
      { scheme: "bip340", threshold: 2, parties: 3 },
      { timeoutMs: 60_000 },
    );
    const items = [undefined, "m/0/1", "m/0/2", "m/0/1"].map((path) => ({
      message: hex(randomBytes(32)),
      path,
    }));
    const sigs = await api.signBatchAndWait(key.id, { messages: items, taproot: {} }, { timeoutMs: 60_000 });
    assert.equal(sigs.length, 4);
    sigs.forEach((s, i) => {
      assert.equal(s.path, items[i]!.path);
      assert.equal(s.publicKey, s.taproot?.outputKey);
      assert.ok(
        verifyBip340(s.publicKey, Buffer.from(items[i]!.message, "hex"), s.signature),
        `signature ${i}`,
      );
    });
    // The root's output key is the key's BIP86 one; the same path gives the same key, another path another.
    assert.equal(sigs[0]!.publicKey, key.taproot?.outputKey);
    assert.equal(sigs[1]!.publicKey, sigs[3]!.publicKey);
    assert.notEqual(sigs[1]!.publicKey, sigs[2]!.publicKey);
  });
});
