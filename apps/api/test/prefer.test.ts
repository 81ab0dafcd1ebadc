/** The RFC 7240 `wait` preference as the operation-starting routes read it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_PREFERRED_WAIT_S, preferredWaitSeconds } from "../src/http/prefer.js";

test("wait=N is read among other preferences, in any case, quoted or not, capped", () => {
  assert.equal(preferredWaitSeconds("wait=10"), 10);
  assert.equal(preferredWaitSeconds("respond-async, Wait = 7"), 7);
  assert.equal(preferredWaitSeconds('wait="5"'), 5);
  assert.equal(preferredWaitSeconds('wait="15"'), 15);
  assert.equal(preferredWaitSeconds("wait=3; foo=bar"), 3);
  assert.equal(preferredWaitSeconds(["handling=lenient", "wait=4"]), 4);
  assert.equal(preferredWaitSeconds("wait=0"), 0);
  assert.equal(preferredWaitSeconds("wait=100000"), MAX_PREFERRED_WAIT_S);
});

test("no wait, or a malformed one, is no wait", () => {
  for (const h of [
    undefined,
    "",
    "respond-async",
    "wait",
    "wait=",
    "wait=-1",
    "wait=1.5",
    "wait=1=2",
    "wait=abc",
    'wait=1"2"',
    'wait="1"2',
    "await=3",
    "wait=9999999999",
  ])
    assert.equal(preferredWaitSeconds(h), 0, String(h));
});
