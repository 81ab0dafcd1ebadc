/**
 * The party's own check of a work item against the client request it carries, one refusal at a
 * time: each case takes a work item an honest API would publish and changes one thing as a
 * compromised API would (the request's target, a body field, the derived ids, the tenant, the
 * signer's role or grants). Pure: no broker needed, so every check here fails fast when deleted.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { keyIdOf, operationIdOf } from "@custody/core";
import { createAuthority, createClientKey, issueCredential, type Role } from "@custody/credentials";
import {
  ClientRequestSchema,
  create,
  SignItemSchema,
  SignWorkSchema,
  TaprootTweakSchema,
  type WorkItem,
} from "@custody/proto";
import { PermanentFailure } from "@custody/runtime";
import { checkClientRequest, MAX_REQUEST_AGE_MS } from "../src/authorization.js";
import { Client, TENANT } from "./harness.js";

const authority = createAuthority();
const AUTHORITIES = [authority.publicKey];
const KEY = "k_test";
const MESSAGE = Uint8Array.from([0xab, 0xcd, 0xef, 0x01]);

function client(role: Role = "admin", keys: string[] = ["*"], tenant = TENANT): Client {
  const key = createClientKey();
  const now = Math.floor(Date.now() / 1000);
  const credential = issueCredential(authority.seed, {
    sub: key.publicKey,
    role,
    tenant,
    name: "authorization-test",
    keys,
    iat: now - 10,
    exp: now + 3600,
  });
  return new Client(key.seed, credential, tenant);
}

const admin = client();

/** `item` with its client request replaced by a freshly signed one (ids re-derived as the API would). */
function resigned(item: WorkItem, method: string, path: string, body: unknown, by = admin): WorkItem {
  const bytes = new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
  const req = signedWithBytes(by, method, path, bytes);
  const ids = { tenant: item.tenant, credential: req.credential, nonce: req.nonce };
  const next = create(ClientRequestSchema, {
    credential: req.credential,
    method,
    path,
    body: bytes,
    timestampMs: BigInt(req.timestampMs),
    nonce: req.nonce,
    signature: req.signature,
  });
  return {
    ...item,
    client: next,
    operationId: operationIdOf(ids),
    keyId: item.op.case === "dkg" ? keyIdOf(ids) : item.keyId,
  };
}

/** A signed request over raw body bytes (the harness client signs JSON objects only). */
function signedWithBytes(by: Client, method: string, path: string, bytes: Uint8Array) {
  const json = bytes.length === 0 ? undefined : (JSON.parse(new TextDecoder().decode(bytes)) as object);
  const req = by.request(method, path, json);
  // The harness serialises with JSON.stringify; the bytes must be exactly what was signed.
  assert.deepEqual(req.body, bytes.length === 0 ? new Uint8Array() : bytes);
  return req;
}

const refused = (why: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PermanentFailure, String(e));
  assert.equal(e.code, "unauthorized-request");
  assert.match(e.message, why);
  return true;
};

const dkg = () => admin.dkg("ed25519", 2, [1, 2, 3]);
const sign = (path?: string, by = admin) => by.sign(KEY, "secp256k1", 0, [1, 2], MESSAGE, path);
const refresh = () => admin.refresh(KEY, "ed25519", 0, [1, 2, 3]);

describe("a party checks every work item against the client's signed request", { timeout: 60_000 }, () => {
  test("honest work items pass and return the client's claims", () => {
    for (const item of [dkg(), sign(), sign("m/0/5"), refresh()]) {
      const claims = checkClientRequest(item, AUTHORITIES);
      assert.equal(claims.tenant, TENANT);
      assert.equal(claims.role, "admin");
    }
  });

  test("no client request, an unknown authority, a stale request", () => {
    assert.throws(
      () => checkClientRequest({ ...sign(), client: undefined }, AUTHORITIES),
      refused(/no client/),
    );
    assert.throws(
      () => checkClientRequest(sign(), [createAuthority().publicKey]),
      refused(/client request refused: bad-credential/),
    );
    const late = Date.now() + MAX_REQUEST_AGE_MS + 60_000;
    assert.throws(() => checkClientRequest(sign(), AUTHORITIES, late), refused(/client request refused/));
    assert.doesNotThrow(() =>
      checkClientRequest(sign(), AUTHORITIES, Date.now() + MAX_REQUEST_AGE_MS - 60_000),
    );
  });

  test("a tampered body or target breaks the client's signature", () => {
    const item = sign();
    const body = new TextEncoder().encode(JSON.stringify({ message: "00" }));
    assert.throws(
      () => checkClientRequest({ ...item, client: { ...item.client!, body } }, AUTHORITIES),
      refused(/client request refused: bad-signature/),
    );
    assert.throws(
      () =>
        checkClientRequest(
          { ...item, client: { ...item.client!, path: "/v1/keys/k_other/sign" } },
          AUTHORITIES,
        ),
      refused(/client request refused: bad-signature/),
    );
  });

  test("the tenant and the operation id are the request's", () => {
    assert.throws(() => checkClientRequest({ ...sign(), tenant: "other" }, AUTHORITIES), refused(/tenant/));
    assert.throws(
      () => checkClientRequest({ ...sign(), operationId: "op_chosen_by_the_api" }, AUTHORITIES),
      refused(/operation id/),
    );
  });

  test("a key creation: target, scheme, threshold, party count and the derived key id", () => {
    const item = dkg();
    assert.throws(
      () =>
        checkClientRequest(
          resigned(item, "PUT", "/v1/keys", { scheme: "ed25519", threshold: 2, parties: 3 }),
          AUTHORITIES,
        ),
      refused(/not a key creation/),
    );
    assert.throws(
      () =>
        checkClientRequest(
          resigned(item, "POST", "/v1/keyz", { scheme: "ed25519", threshold: 2, parties: 3 }),
          AUTHORITIES,
        ),
      refused(/not a key creation/),
    );
    for (const b of [
      { scheme: "bip340", threshold: 2, parties: 3 },
      { scheme: "ed25519", threshold: 3, parties: 3 },
      { scheme: "ed25519", threshold: 2, parties: 4 },
    ])
      assert.throws(
        () => checkClientRequest(resigned(item, "POST", "/v1/keys", b), AUTHORITIES),
        refused(/parameters differ/),
      );
    for (const b of [[1, 2], '"text"', "null"])
      assert.throws(
        () => checkClientRequest(resigned(item, "POST", "/v1/keys", b), AUTHORITIES),
        refused(/not a JSON object/),
      );
    assert.throws(() => checkClientRequest({ ...item, keyId: "k_existing" }, AUTHORITIES), refused(/key id/));
  });

  test("a signature: target, message and derivation path are the request's", () => {
    const item = sign("m/0/5");
    const hex = Buffer.from(MESSAGE).toString("hex");
    assert.throws(
      () =>
        checkClientRequest(
          resigned(item, "PUT", `/v1/keys/${KEY}/sign`, { message: hex, path: "m/0/5" }),
          AUTHORITIES,
        ),
      refused(/not this signing/),
    );
    assert.throws(
      () =>
        checkClientRequest(
          resigned(item, "POST", "/v1/keys/k_other/sign", { message: hex, path: "m/0/5" }),
          AUTHORITIES,
        ),
      refused(/not this signing/),
    );
    for (const message of ["abcdef02", 42, undefined])
      assert.throws(
        () =>
          checkClientRequest(
            resigned(item, "POST", `/v1/keys/${KEY}/sign`, { message, path: "m/0/5" }),
            AUTHORITIES,
          ),
        refused(/message differs/),
      );
    // Hex case does not matter: the same bytes.
    assert.doesNotThrow(() =>
      checkClientRequest(
        resigned(item, "POST", `/v1/keys/${KEY}/sign`, { message: hex.toUpperCase(), path: "m/0/5" }),
        AUTHORITIES,
      ),
    );
    for (const path of ["m/0/6", "m/0", "m/0/5/1", "m/5/0", "m", undefined, "m/00/5", "m/0/+5", "m/0/5 "])
      assert.throws(
        () =>
          checkClientRequest(
            resigned(item, "POST", `/v1/keys/${KEY}/sign`, { message: hex, path }),
            AUTHORITIES,
          ),
        refused(/derivation path differs/),
      );
    for (const path of ["0/5", "/0/5", 5, ["m", 0, 5]])
      assert.throws(
        () =>
          checkClientRequest(
            resigned(item, "POST", `/v1/keys/${KEY}/sign`, { message: hex, path }),
            AUTHORITIES,
          ),
        refused(/invalid path/),
      );
    // An empty path may be written `m` or left out.
    const root = sign();
    for (const path of ["m", undefined])
      assert.doesNotThrow(() =>
        checkClientRequest(
          resigned(root, "POST", `/v1/keys/${KEY}/sign`, { message: hex, path }),
          AUTHORITIES,
        ),
      );
    assert.throws(
      () =>
        checkClientRequest(
          resigned(root, "POST", `/v1/keys/${KEY}/sign`, { message: hex, path: "m/0" }),
          AUTHORITIES,
        ),
      refused(/derivation path differs/),
    );
  });

  test("the Taproot option of a signing is the request's: present, absent, or another merkle root", () => {
    const base = sign();
    const root = "ab".repeat(32);
    const withTweak = (merkleRoot?: string): WorkItem => ({
      ...base,
      op: {
        case: "sign",
        value: create(SignWorkSchema, {
          ...(base.op.value as object),
          taproot: create(TaprootTweakSchema, {
            merkleRoot: merkleRoot ? Buffer.from(merkleRoot, "hex") : new Uint8Array(),
          }),
        }),
      },
    });
    const hexMessage = Buffer.from(MESSAGE).toString("hex");
    const check = (item: WorkItem, body: unknown) =>
      checkClientRequest(resigned(item, "POST", `/v1/keys/${KEY}/sign`, body), AUTHORITIES);
    assert.doesNotThrow(() => check(withTweak(), { message: hexMessage, taproot: {} }));
    assert.doesNotThrow(() => check(withTweak(root), { message: hexMessage, taproot: { merkleRoot: root } }));
    for (const [item, body] of [
      [withTweak(), { message: hexMessage }],
      [base, { message: hexMessage, taproot: {} }],
      [withTweak(root), { message: hexMessage, taproot: {} }],
      [withTweak(), { message: hexMessage, taproot: { merkleRoot: root } }],
      [withTweak(root), { message: hexMessage, taproot: { merkleRoot: "cd".repeat(32) } }],
    ] as const)
      assert.throws(() => check(item, body), refused(/taproot option differs/));
  });

  test("a signing batch: every message and path, in order, are the request's", () => {
    const msgs = [Uint8Array.of(1), Uint8Array.of(2, 3), Uint8Array.of(4)];
    const paths = [[], [0, 5], [7]];
    const base = sign();
    const batchOf = (m: Uint8Array[], p: number[][], message = new Uint8Array()): WorkItem => ({
      ...base,
      op: {
        case: "sign",
        value: create(SignWorkSchema, {
          epoch: 0,
          signers: [1, 2],
          message,
          batch: m.map((message, i) => create(SignItemSchema, { message, path: p[i] ?? [] })),
        }),
      },
    });
    const work = batchOf(msgs, paths);
    const h = (b: Uint8Array) => Buffer.from(b).toString("hex");
    const signed = [{ message: "01" }, { message: "0203", path: "m/0/5" }, { message: "04", path: "m/7" }];
    const check = (item: WorkItem, body: unknown) =>
      checkClientRequest(resigned(item, "POST", `/v1/keys/${KEY}/sign`, body), AUTHORITIES);
    assert.doesNotThrow(() => check(work, { messages: signed }));
    assert.doesNotThrow(() =>
      check(work, { messages: signed.map((x) => ({ ...x, message: x.message.toUpperCase() })) }),
    );
    assert.doesNotThrow(() => check(work, { messages: [{ message: "01", path: "m" }, ...signed.slice(1)] }));
    // The work item differs from what the client signed: a message, the order, the count, a path.
    const changed: [unknown, RegExp][] = [
      [[{ message: "01" }, { message: "0204", path: "m/0/5" }, signed[2]], /message 1 differs/],
      [[signed[1], signed[0], signed[2]], /message 0 differs/],
      [signed.slice(0, 2), /batch size differs/],
      [[...signed, { message: "05" }], /batch size differs/],
      [[signed[0], { message: "0203", path: "m/0/6" }, signed[2]], /derivation path 1 differs/],
      [[signed[0], signed[1], { message: "04" }], /derivation path 2 differs/],
      [[signed[0], signed[1], { message: "04", path: "m/7", taproot: {} }], /item 2 is not a message/],
      [[signed[0], signed[1], "04"], /item 2 is not a message/],
      [[signed[0], signed[1], null], /item 2 is not a message/],
      [[signed[0], signed[1], { message: 4, path: "m/7" }], /message 2 differs/],
      [[signed[0], signed[1], { message: "04", path: "7" }], /invalid path/],
    ];
    for (const [messages, why] of changed) assert.throws(() => check(work, { messages }), refused(why));
    for (const body of [
      { messages: [] },
      { messages: "01" },
      { messages: signed, message: h(msgs[0]!) },
      { messages: signed, path: "m/0" },
      { message: "01" },
    ])
      assert.throws(() => check(work, body), refused(/not a signing batch/));
    // A single-message work item never answers a batch request, and a batch item carries no message of its own.
    assert.throws(
      () => check(base, { messages: [{ message: h(MESSAGE) }] }),
      refused(/message outside its items/),
    );
    assert.throws(
      () => check(batchOf([], []), { messages: [{ message: "" }] }),
      refused(/batch size differs/),
    );
    assert.throws(
      () => check(batchOf(msgs, paths, MESSAGE), { messages: signed }),
      refused(/message outside its items/),
    );
    const withPath: WorkItem = {
      ...work,
      op: { case: "sign", value: create(SignWorkSchema, { ...(work.op.value as object), path: [0] }) },
    };
    assert.throws(() => check(withPath, { messages: signed }), refused(/message outside its items/));
  });

  test("a refresh: target is the request's", () => {
    const item = refresh();
    assert.throws(
      () => checkClientRequest(resigned(item, "POST", "/v1/keys/k_other/refresh", ""), AUTHORITIES),
      refused(/not this refresh/),
    );
    assert.throws(
      () => checkClientRequest(resigned(item, "PATCH", `/v1/keys/${KEY}/refresh`, ""), AUTHORITIES),
      refused(/not this refresh/),
    );
    assert.throws(
      () => checkClientRequest(resigned(item, "POST", `/v1/keys/${KEY}/sign`, ""), AUTHORITIES),
      refused(/not this refresh/),
    );
  });

  test("the party applies the role table and key grants itself", () => {
    assert.throws(() => checkClientRequest(sign(undefined, client("auditor")), AUTHORITIES), refused(/.+/));
    assert.throws(
      () => checkClientRequest(sign(undefined, client("signer", ["k_else"])), AUTHORITIES),
      refused(/.+/),
    );
    assert.doesNotThrow(() => checkClientRequest(sign(undefined, client("signer", [KEY])), AUTHORITIES));
    const signer = client("signer", ["*"]);
    const item = signer.refresh(KEY, "ed25519", 0, [1, 2, 3]);
    assert.throws(() => checkClientRequest(item, AUTHORITIES), refused(/.+/));
    const create = signer.dkg("ed25519", 2, [1, 2, 3]);
    assert.throws(() => checkClientRequest(create, AUTHORITIES), refused(/.+/));
  });

  test("a work item without an operation is refused", () => {
    assert.throws(
      () => checkClientRequest({ ...sign(), op: { case: undefined, value: undefined } }, AUTHORITIES),
      refused(/without an operation/),
    );
  });
});
