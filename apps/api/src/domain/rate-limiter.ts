/**
 * Token buckets per credential: each client may sign at a bounded rate, so one credential cannot
 * exhaust the signing tier. In memory per API instance (a deployment's limit is instances × rate).
 * A request costs one token per signature it asks for; one that costs more than the burst (a large
 * signing batch) is admitted only from a full bucket and leaves it in debt, so the long-run rate
 * stays `perSecond` whatever the request sizes.
 * @module
 */

/** A rate: tokens per second and the bucket size. */
export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

/** Per-key token buckets with a bounded number of tracked keys. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: Rate,
    private readonly maxKeys = 100_000,
  ) {}

  /**
   * Takes `cost` tokens for `key` when it holds them (a cost above the burst: when the bucket is
   * full; the balance then goes negative).
   * @returns 0 when allowed (and taken), else the milliseconds until the request would be allowed
   */
  take(key: string, cost = 1, now = Date.now()): number {
    const b = this.buckets.get(key) ?? { tokens: this.rate.burst, at: now };
    b.tokens = Math.min(this.rate.burst, b.tokens + ((now - b.at) / 1000) * this.rate.perSecond);
    b.at = now;
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(key, b);
    const needed = Math.min(cost, this.rate.burst);
    if (b.tokens >= needed) {
      b.tokens -= cost;
      return 0;
    }
    return Math.ceil(((needed - b.tokens) / this.rate.perSecond) * 1000);
  }
}
