import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createKekFile, open, readKek, SealError, seal } from "../src/index.js";

const slot = { keyId: "key_1", party: 2, epoch: 3, scheme: "ed25519", tenant: "acme" };

test("sealed shares open only with the same KEK and slot", () => {
  const kek = randomBytes(32);
  const share = randomBytes(100);
  const rec = seal(kek, slot, share);
  assert.deepEqual(Buffer.from(open(kek, slot, rec)), share);
  assert.equal(Buffer.from(rec).includes(share.subarray(0, 16)), false, "no plaintext in the record");
  assert.throws(() => open(randomBytes(32), slot, rec), SealError);
  for (const other of [
    { keyId: "key_2" },
    { party: 3 },
    { epoch: 4 },
    { scheme: "bip340" },
    { tenant: "other" },
  ])
    assert.throws(
      () => open(kek, { ...slot, ...other }, rec),
      SealError,
      `moved to ${JSON.stringify(other)}`,
    );
  const flipped = Uint8Array.from(rec);
  flipped[flipped.length - 1]! ^= 1;
  assert.throws(() => open(kek, slot, flipped), SealError);
  assert.notDeepEqual(seal(kek, slot, share), rec, "a fresh nonce every time");
});

test("the error of a failed open does not contain key material", () => {
  const kek = randomBytes(32);
  const sealedWith = randomBytes(32);
  const secrets = [kek, sealedWith].flatMap((k) => [k.toString("hex"), k.toString("base64")]);
  assert.throws(
    () => open(kek, slot, seal(sealedWith, slot, randomBytes(10))),
    (e: unknown) => {
      assert.ok(e instanceof SealError, `a SealError, not ${String(e)}`);
      const text = `${e.message} ${e.stack ?? ""} ${JSON.stringify(e)}`;
      for (const s of secrets) assert.ok(!text.includes(s), "no key material in the error");
      return true;
    },
  );
});

test("KEK files are 32 random bytes, mode 0600", () => {
  const f = join(mkdtempSync(join(tmpdir(), "kek-")), "p1.kek");
  createKekFile(f);
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.equal(readKek(f).length, 32);
  assert.match(readFileSync(f, "utf8"), /^[0-9a-f]{64}$/);
});
