import assert from "node:assert/strict";
import { test } from "node:test";
import { RateLimiter } from "../src/domain/rate-limiter.js";

test("a credential gets its burst, then its rate; others are unaffected", () => {
  const l = new RateLimiter({ perSecond: 10, burst: 3 });
  const t = 1_000_000;
  assert.deepEqual([l.take("a", t), l.take("a", t), l.take("a", t)], [0, 0, 0]);
  assert.equal(l.take("a", t), 100, "the fourth waits 100 ms");
  assert.equal(l.take("b", t), 0);
  assert.equal(l.take("a", t + 100), 0, "one token back after 100 ms");
});

test("the number of tracked credentials stays bounded", () => {
  const l = new RateLimiter({ perSecond: 1, burst: 1 }, 10);
  for (let i = 0; i < 1000; i++) l.take(`k${i}`, 0);
  assert.equal(l.take("k999", 0), 1000, "recent keys are remembered");
  assert.equal(l.take("k0", 0), 0, "old keys were dropped (fresh bucket)");
});
