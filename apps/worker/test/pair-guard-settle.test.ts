/**
 * A guarded session's `settle` goes through the pair guard like every other step: after the bans
 * are checked, and a `security` abort it raises bans the culprit's pair as any step's would.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ProtocolError } from "@custody/core";
import { PermanentFailure, type SessionHost } from "@custody/runtime";
import { PartyLedger } from "@custody/store";
import { PairGuard } from "../src/pair-guard.js";
import { MemoryLog } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "custody-pair-guard-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A host whose deferred checks find party 2 cheating; counts its settle calls. */
function cheatingHost(calls: { settle: number }): SessionHost<number> {
  return {
    start: async () => [],
    deliver: async () => [],
    missing: async () => [2],
    settle: async () => {
      calls.settle++;
      throw new ProtocolError("security", "a deferred check failed", [2]);
    },
    result: async () => undefined,
    close: async () => {},
  };
}

test("settle is a guarded step: a security abort from it locks the pair", { timeout: 30_000 }, async () => {
  const guard = new PairGuard(PartyLedger.open(join(dir, "ledger")), new MemoryLog());
  const calls = { settle: 0 };
  const admission = guard.admit("t", "key", 0, [1, 2], [], new AbortController().signal);
  const host = admission.guard(cheatingHost(calls));
  await assert.rejects(host.settle(), (e: unknown) => e instanceof ProtocolError && e.kind === "security");
  assert.equal(calls.settle, 1);
  // The ban is checked before the next step of any session of the key, this one's included.
  await assert.rejects(
    host.settle(),
    (e: unknown) => e instanceof PermanentFailure && e.code === "pair-locked",
  );
  assert.equal(calls.settle, 1);
  admission.release();
  assert.throws(
    () => guard.admit("t", "key", 0, [1, 2], [], new AbortController().signal),
    (e: unknown) => e instanceof PermanentFailure && e.code === "pair-locked",
  );
});
