import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { frame } from "@custody/core";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  createKekFile,
  FileKek,
  KekConfigError,
  kekProviderFromConfig,
  kekRing,
  open,
  openState,
  readKek,
  SealError,
  seal,
  sealState,
} from "../src/index.js";

const slot = { keyId: "key_1", party: 2, epoch: 3, scheme: "ed25519", tenant: "acme" };

test("sealed shares open only with the same KEK and slot", async () => {
  const kek = randomBytes(32);
  const share = randomBytes(100);
  const rec = await seal(kek, slot, share);
  assert.deepEqual(Buffer.from(await open(kek, slot, rec)), share);
  assert.deepEqual(
    Buffer.from(await open(FileKek.fromKey(kek), slot, rec)),
    share,
    "bytes or provider alike",
  );
  assert.equal(Buffer.from(rec).includes(share.subarray(0, 16)), false, "no plaintext in the record");
  await assert.rejects(open(randomBytes(32), slot, rec), SealError);
  for (const other of [
    { keyId: "key_2" },
    { party: 3 },
    { epoch: 4 },
    { scheme: "bip340" },
    { tenant: "other" },
    { session: "aa" },
  ])
    await assert.rejects(
      open(kek, { ...slot, ...other }, rec),
      SealError,
      `moved to ${JSON.stringify(other)}`,
    );
  for (const at of [1, 10, rec.length - 40, rec.length - 1]) {
    const flipped = Uint8Array.from(rec);
    flipped[at]! ^= 1;
    await assert.rejects(open(kek, slot, flipped), SealError, `byte ${at} flipped`);
  }
  assert.notDeepEqual(await seal(kek, slot, share), rec, "a fresh data key and nonce every time");
});

test("records are envelopes: version 2, the KEK's id, a wrapped data key; the record body is not under the KEK", async () => {
  const kek = FileKek.fromKey(randomBytes(32));
  const rec = await seal(kek, slot, randomBytes(40));
  assert.equal(rec[0], 2);
  assert.equal(new TextDecoder().decode(rec.subarray(2, 2 + rec[1]!)), kek.id);
  assert.match(kek.id, /^file:[0-9a-f]{16}$/);
  const wrappedAt = 3 + rec[1]!;
  assert.equal(rec[wrappedAt - 1], 24 + 32 + 16);
  // The body is sealed under the data key, not directly under the KEK.
  const body = rec.subarray(wrappedAt + 72);
  assert.throws(() =>
    kek.openDirect(
      frame("custody/share-at-rest/v3", ["key_1", 2, 3, "ed25519", "acme", ""]),
      body.subarray(0, 24),
      body.subarray(24),
    ),
  );
  // A state record is under other associated data than a share record of the same key.
  const st = await sealState(kek, slot, randomBytes(8));
  await assert.rejects(open(kek, slot, st), SealError);
  assert.equal((await openState(kek, slot, st)).length, 8);
});

test("a version-1 record (sealed directly under the file KEK) still opens, and only for its slot", async () => {
  const kek = randomBytes(32);
  const share = randomBytes(50);
  const nonce = randomBytes(24);
  const ad = frame("custody/share-at-rest/v3", [
    slot.keyId,
    slot.party,
    slot.epoch,
    slot.scheme,
    slot.tenant,
    "",
  ]);
  const v1 = Buffer.concat([Buffer.from([1]), nonce, xchacha20poly1305(kek, nonce, ad).encrypt(share)]);
  assert.deepEqual(Buffer.from(await open(kek, slot, v1)), share);
  await assert.rejects(open(kek, { ...slot, epoch: 4 }, v1), SealError);
  await assert.rejects(open(randomBytes(32), slot, v1), SealError);
  // A provider without a software KEK cannot open it, and says so.
  const hsmLike = { id: "hsm:x", wrap: FileKek.fromKey(kek).wrap, unwrap: FileKek.fromKey(kek).unwrap };
  await assert.rejects(open(hsmLike, slot, v1), /version-1 record/);
  // A ring with the retired file KEK opens it (migration to another KEK).
  assert.deepEqual(
    Buffer.from(await open(kekRing(FileKek.fromKey(randomBytes(32)), FileKek.fromKey(kek)), slot, v1)),
    share,
  );
});

test("a ring wraps under its current KEK and opens records of retired ones; an unknown KEK fails closed", async () => {
  const [old, cur, stranger] = [0, 1, 2].map(() => FileKek.fromKey(randomBytes(32)));
  const before = await seal(old!, slot, Buffer.from("old"));
  const ring = kekRing(cur!, old!);
  const after = await seal(ring, slot, Buffer.from("new"));
  assert.equal(new TextDecoder().decode(after.subarray(2, 2 + after[1]!)), cur!.id);
  assert.equal(Buffer.from(await open(ring, slot, before)).toString(), "old");
  assert.equal(Buffer.from(await open(cur!, slot, after)).toString(), "new");
  await assert.rejects(open(old!, slot, after), SealError);
  await assert.rejects(open(ring, slot, await seal(stranger!, slot, Buffer.from("x"))), /does not hold/);
  assert.throws(() => kekRing(cur!, cur!), KekConfigError);
});

test("the error of a failed open does not contain key material", async () => {
  const kek = randomBytes(32);
  const sealedWith = randomBytes(32);
  const secrets = [kek, sealedWith].flatMap((k) => [k.toString("hex"), k.toString("base64")]);
  await assert.rejects(open(kek, slot, await seal(sealedWith, slot, randomBytes(10))), (e: unknown) => {
    assert.ok(e instanceof SealError, `a SealError, not ${String(e)}`);
    const text = `${e.message} ${e.stack ?? ""} ${JSON.stringify(e)}`;
    for (const s of secrets) assert.ok(!text.includes(s), "no key material in the error");
    return true;
  });
});

test("KEK files are 32 random bytes, mode 0600", () => {
  const f = join(mkdtempSync(join(tmpdir(), "kek-")), "p1.kek");
  createKekFile(f);
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.equal(readKek(f).length, 32);
  assert.match(readFileSync(f, "utf8"), /^[0-9a-f]{64}$/);
});

test("a file KEK is refused unless insecure-file-kek is given; exactly one KEK source", async () => {
  const f = join(mkdtempSync(join(tmpdir(), "kek-")), "p1.kek");
  createKekFile(f);
  const refused = (reason: string) => (e: unknown) => {
    assert.ok(e instanceof KekConfigError, String(e));
    assert.equal(e.reason, reason);
    return true;
  };
  await assert.rejects(kekProviderFromConfig({ file: f }), refused("insecure-file-kek"));
  await assert.rejects(
    kekProviderFromConfig({ file: f, insecureFileKek: false }),
    refused("insecure-file-kek"),
  );
  await assert.rejects(kekProviderFromConfig({ insecureFileKek: true }), refused("invalid"));
  const pkcs11 = { module: "/nonexistent.so", token: "t", pinEnv: "X", keyLabel: "k" };
  await assert.rejects(kekProviderFromConfig({ file: f, pkcs11, insecureFileKek: true }), refused("invalid"));
  const dev = await kekProviderFromConfig({ file: f, insecureFileKek: true });
  assert.equal(dev.id, FileKek.fromKey(readKek(f)).id);
  const rec = await seal(dev, slot, Buffer.from("dev"));
  assert.equal(Buffer.from(await open(readKek(f), slot, rec)).toString(), "dev");
  writeFileSync(f, "short");
  await assert.rejects(kekProviderFromConfig({ file: f, insecureFileKek: true }), refused("invalid"));
});

test("the data key is wrapped bound to the slot, under its own domain; a provider's malformed output is refused", async () => {
  const file = FileKek.fromKey(randomBytes(32));
  const seen: Uint8Array[] = [];
  const spy = {
    id: file.id,
    wrap: (d: Uint8Array, ad: Uint8Array) => {
      seen.push(ad);
      return file.wrap(d, ad);
    },
    unwrap: file.unwrap.bind(file),
  };
  await seal(spy, slot, Buffer.from("a"));
  await seal(spy, { ...slot, epoch: 4 }, Buffer.from("a"));
  await sealState(spy, slot, Buffer.from("a"));
  const recordAd = frame("custody/share-at-rest/v3", ["key_1", 2, 3, "ed25519", "acme", ""]);
  assert.equal(new Set(seen.map((a) => Buffer.from(a).toString("hex"))).size, 3, "one wrap AAD per slot");
  assert.notDeepEqual(seen[0], recordAd, "not the record's own associated data");
  const bad = (bytes: Uint8Array, kek = file.id) => ({ ...spy, wrap: async () => ({ kek, bytes }) });
  await assert.rejects(seal(bad(new Uint8Array(256)), slot, Buffer.from("a")), SealError);
  assert.equal((await seal(bad(new Uint8Array(255)), slot, Buffer.from("a")))[2 + file.id.length], 255);
  await assert.rejects(seal(bad(new Uint8Array(8), "a b"), slot, Buffer.from("a")), KekConfigError);
  await assert.rejects(seal(bad(new Uint8Array(8), "k".repeat(65)), slot, Buffer.from("a")), KekConfigError);
  assert.equal((await seal(bad(new Uint8Array(8), "k".repeat(64)), slot, Buffer.from("a")))[1], 64);
  // A ring of providers without a software KEK has no way to open version-1 records, and says so.
  const v1 = Uint8Array.of(1, ...randomBytes(24 + 16));
  await assert.rejects(
    open(kekRing({ id: "hsm:a", wrap: spy.wrap, unwrap: spy.unwrap }), slot, v1),
    /version-1 record/,
  );
});
