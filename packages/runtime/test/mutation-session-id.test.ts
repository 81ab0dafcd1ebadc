/**
 * The session id binds the operation id and every participant's join nonce and ephemeral key, in
 * party order (found by `npm run mutation -- session-transport`: dropping any of them from the
 * hash went unnoticed, and then a retried session would reuse the id of the one before).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { randomBytes } from "@noble/hashes/utils.js";
import { deriveSessionId, type JoinInfo } from "../src/index.js";

const join = (): JoinInfo => ({ nonce: randomBytes(32), kxPublic: randomBytes(32) });

test("the session id changes with the operation id, any nonce or any ephemeral key", () => {
  const joins = new Map([
    [1, join()],
    [2, join()],
    [3, join()],
  ]);
  const sid = deriveSessionId("op-1", joins);
  assert.equal(sid.length, 32);
  assert.notDeepEqual(deriveSessionId("op-2", joins), sid);
  for (const p of [1, 2, 3]) {
    const own = joins.get(p)!;
    for (const changed of [
      { nonce: randomBytes(32), kxPublic: own.kxPublic },
      { nonce: own.nonce, kxPublic: randomBytes(32) },
    ]) {
      assert.notDeepEqual(deriveSessionId("op-1", new Map([...joins, [p, changed]])), sid, `party ${p}`);
    }
  }
});

test("the session id does not depend on the order the joins arrived in", () => {
  const a = join();
  const b = join();
  const c = join();
  const sid = deriveSessionId(
    "op",
    new Map([
      [1, a],
      [2, b],
      [3, c],
    ]),
  );
  assert.deepEqual(
    deriveSessionId(
      "op",
      new Map([
        [3, c],
        [1, a],
        [2, b],
      ]),
    ),
    sid,
  );
  // The party ids are bound too: the same joins under other ids give another session.
  assert.notDeepEqual(
    deriveSessionId(
      "op",
      new Map([
        [1, a],
        [2, b],
        [4, c],
      ]),
    ),
    sid,
  );
});
