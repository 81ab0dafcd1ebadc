import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePath } from "../src/domain/paths.js";
import { xpubOf } from "../src/domain/xpub.js";

test("BIP32 paths: non-hardened only, canonical decimal, in range", () => {
  assert.deepEqual(parsePath("m"), []);
  assert.deepEqual(parsePath("m/44/60/0/0/5"), [44, 60, 0, 0, 5]);
  assert.deepEqual(parsePath("m/2147483647"), [2147483647]);
  for (const bad of ["", "44/0", "m/", "m/01", "m/-1", "m/2147483648", "m/44'", "m/44h", "m/a", "m//1"])
    assert.equal(typeof parsePath(bad), "string", bad);
});

test("xpub serialisation matches BIP32 test vector 1 (chain m)", () => {
  assert.equal(
    xpubOf(
      "0339a36013301597daef41fbe593a02cc513d0b55527ec2df1050e2e8ff49c85c2",
      "873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508",
    ),
    "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8",
  );
});
