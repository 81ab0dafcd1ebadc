/** The worker's local ledger: bans and active epochs survive a restart; a torn append is dropped; corruption fails closed. */
import assert from "node:assert/strict";
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LedgerError, PartyLedger } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "custody-ledger-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("bans and active epochs are durable and scoped by tenant, key and epoch", () => {
  const file = join(dir, "a.ledger");
  const l = PartyLedger.open(file);
  l.recordBan("acme", "key_1", 0, 3);
  l.recordBan("acme", "key_1", 0, 2);
  l.recordBan("acme", "key_1", 0, 3);
  l.recordActive("acme", "key_1", 2);
  l.recordActive("acme", "key_1", 1); // never lowers
  const again = PartyLedger.open(file);
  assert.deepEqual(again.bannedPeers("acme", "key_1", 0), [2, 3]);
  assert.deepEqual(again.bannedPeers("acme", "key_1", 1), []);
  assert.deepEqual(again.bannedPeers("other", "key_1", 0), []);
  assert.equal(again.activeEpoch("acme", "key_1"), 2);
  assert.equal(again.activeEpoch("other", "key_1"), undefined);
  assert.equal(readFileSync(file, "utf8").trim().split("\n").length, 3);
});

test("a torn last line is dropped; any other unreadable entry refuses to open", () => {
  const file = join(dir, "b.ledger");
  PartyLedger.open(file).recordBan("acme", "key_2", 0, 2);
  appendFileSync(file, '{"t":"ban","tenant":"acme"');
  assert.deepEqual(PartyLedger.open(file).bannedPeers("acme", "key_2", 0), [2]);
  assert.equal(readFileSync(file, "utf8").endsWith("\n"), true, "torn tail truncated");
  writeFileSync(file, 'garbage\n{"t":"ban","tenant":"acme","key":"key_2","epoch":0,"peer":2}\n');
  assert.throws(() => PartyLedger.open(file), LedgerError);
  writeFileSync(file, '{"t":"forget","tenant":"acme","key":"key_2","epoch":0}\n');
  assert.throws(() => PartyLedger.open(file), LedgerError);
});

test("a ban that cannot be written throws LedgerError and is not taken as recorded", () => {
  const sub = mkdtempSync(join(dir, "ro-"));
  const l = PartyLedger.open(join(sub, "c.ledger"));
  chmodSync(sub, 0o500);
  try {
    // root ignores directory modes: make the path itself unusable instead
    const broken = PartyLedger.open(join(sub, "missing-dir", "c.ledger"));
    assert.throws(() => broken.recordBan("acme", "key_3", 0, 2), LedgerError);
    assert.deepEqual(broken.bannedPeers("acme", "key_3", 0), []);
  } finally {
    chmodSync(sub, 0o700);
  }
  l.recordBan("acme", "key_3", 0, 2);
  assert.deepEqual(l.bannedPeers("acme", "key_3", 0), [2]);
});
