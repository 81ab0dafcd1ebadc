/**
 * A file KEK is never used silently: a worker started with `insecure-file-kek` (the dev stack's
 * workers are) names the KEK kind `file (insecure)` in its ready line and logs a warning first.
 * The PKCS#11 side (`kek: "pkcs11"`, no warning) is checked by the deployment test.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { Stack } from "../src/index.js";
import { logRecords, startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
after(() => stopTestStack(stack));

test("a worker with a file KEK says so in its ready line and warns", async () => {
  stack = await startTestStack({ parties: 2 });
  for (const name of ["party1-w1", "party2-w1"]) {
    const records = logRecords(stack, name);
    const ready = records.findIndex((r) => r.msg === "worker ready");
    assert.ok(ready >= 0, `${name} is ready`);
    assert.equal(records[ready]!.kek, "file (insecure)", name);
    const warning = records.findIndex((r) => r.level === 40 && r.kek === "file (insecure)");
    assert.ok(warning >= 0 && warning < ready, `${name} warned about its file KEK before it was ready`);
    assert.match(String(records[warning]!.msg), /KEK is a file/);
  }
});
