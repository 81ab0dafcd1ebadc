import assert from "node:assert/strict";
import { test } from "node:test";
import { RateLimiter } from "../src/domain/rate-limiter.js";

test("a credential gets its burst, then its rate; others are unaffected", () => {
  const l = new RateLimiter({ perSecond: 10, burst: 3 });
  const t = 1_000_000;
  assert.deepEqual([l.take("a", 1, t), l.take("a", 1, t), l.take("a", 1, t)], [0, 0, 0]);
  assert.equal(l.take("a", 1, t), 100, "the fourth waits 100 ms");
  assert.equal(l.take("b", 1, t), 0);
  assert.equal(l.take("a", 1, t + 100), 0, "one token back after 100 ms");
});

test("a request costs its tokens: one of them is refused when fewer are left", () => {
  const l = new RateLimiter({ perSecond: 10, burst: 10 });
  const t = 1_000_000;
  assert.equal(l.take("a", 8, t), 0);
  assert.equal(l.take("a", 3, t), 100, "2 left, 3 asked: 100 ms until the third");
  assert.equal(l.take("a", 2, t), 0, "the refused request took nothing");
  assert.equal(l.take("a", 1, t), 100);
});

test("a request above the burst is admitted from a full bucket only, and its debt is waited out", () => {
  const l = new RateLimiter({ perSecond: 10, burst: 10 });
  const t = 1_000_000;
  assert.equal(l.take("a", 1, t), 0);
  assert.equal(l.take("a", 25, t), 100, "needs the full burst of 10");
  assert.equal(l.take("a", 25, t + 100), 0, "full again: admitted, 15 in debt");
  assert.equal(l.take("a", 1, t + 100), 1600, "the debt of 15 and one token");
  assert.equal(l.take("a", 1, t + 1700), 0);
});

test("the number of tracked credentials stays bounded", () => {
  const l = new RateLimiter({ perSecond: 1, burst: 1 }, 10);
  for (let i = 0; i < 1000; i++) l.take(`k${i}`, 1, 0);
  assert.equal(l.take("k999", 1, 0), 1000, "recent keys are remembered");
  assert.equal(l.take("k0", 1, 0), 0, "old keys were dropped (fresh bucket)");
});
