import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import { ProtocolError } from "@custody/core";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { decodeShare, type EcdsaShare, ecdsaScheme, encodeShare } from "../src/index.js";
import { checkAndSign, refreshAndSign } from "./flows.js";
import { mustKeygen } from "./run.js";

// Fast suite: (2,2) full flow and (2,3) DKG + signing. The (2,3) refresh and the (3,5) flow are
// in protocol.slow.test.ts (`npm run test:slow`).
let two: Map<number, EcdsaShare> | undefined;
const twoOfTwo = () => {
  two ??= mustKeygen(2, 2);
  return two;
};

test("2-of-2: DKG → sign → refresh → sign (with and without derivation)", () => {
  const shares = twoOfTwo();
  checkAndSign(shares, [[1, 2]]);
  refreshAndSign(shares, [[1, 2]]);
});

test("2-of-3: DKG → sign with every subset (with and without derivation, restored shares)", () => {
  const three = mustKeygen(2, 3);
  // The chain code and the confirmation transcript digest every party's contributions: two runs
  // never share them.
  assert.notDeepEqual(three.get(1)!.chainCode, twoOfTwo().get(1)!.chainCode);
  assert.notDeepEqual(three.get(1)!.transcript, twoOfTwo().get(1)!.transcript);
  checkAndSign(three, [
    [1, 2],
    [1, 3],
    [2, 3],
    [1, 2, 3],
  ]);
});

test("share never prints secrets; strict decoding", () => {
  const shares = twoOfTwo();
  const s = shares.get(1)!;
  const secretHex = s.secret.toString(16);
  for (const text of [JSON.stringify(s), inspect(s), String(inspect({ nested: s }))]) {
    assert.ok(!text.includes(secretHex));
    assert.ok(text.includes("redacted"));
  }
  const enc = encodeShare(s);
  const bad = (b: Uint8Array) =>
    assert.throws(
      () => decodeShare(b),
      (e) => e instanceof ProtocolError && e.kind === "bad-input",
    );
  bad(enc.slice(0, enc.length - 1));
  bad(Uint8Array.from([...enc, 0]));
  const wrongVersion = enc.slice();
  wrongVersion[16] = 9;
  bad(wrongVersion);
  const wrongSecret = enc.slice();
  wrongSecret[25]! ^= 1;
  bad(wrongSecret);
  assert.deepEqual(ecdsaScheme.info(s).publicKey, s.publicKey);
});

test("checkSignInput and sign reject bad inputs", () => {
  const isBadInput = (e: unknown) => e instanceof ProtocolError && e.kind === "bad-input";
  assert.throws(() => ecdsaScheme.checkSignInput(new Uint8Array(31)), isBadInput);
  assert.throws(() => ecdsaScheme.checkSignInput(utf8ToBytes("not a digest")), isBadInput);
  assert.throws(() => ecdsaScheme.checkSignInput(new Uint8Array(32), [0x80000000]), isBadInput);
  assert.throws(() => ecdsaScheme.checkSignInput(new Uint8Array(32), [-1]), isBadInput);
  ecdsaScheme.checkSignInput(new Uint8Array(32), [0, 1]);
  assert.throws(
    () => ecdsaScheme.keygen({ sessionId: randomBytes(32), self: 1, parties: [1, 2, 2], threshold: 2 }),
    isBadInput,
  );
  assert.throws(
    () => ecdsaScheme.keygen({ sessionId: randomBytes(32), self: 1, parties: [0, 1, 2], threshold: 2 }),
    isBadInput,
  );
  assert.throws(
    () => ecdsaScheme.keygen({ sessionId: randomBytes(32), self: 1, parties: [1, 2], threshold: 3 }),
    isBadInput,
  );
});
