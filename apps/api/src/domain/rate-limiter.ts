/**
 * Token buckets per credential: each client may sign at a bounded rate, so one credential cannot
 * exhaust the signing tier. In memory per API instance (a deployment's limit is instances × rate).
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

  /** Takes a token for `key`; returns 0 when allowed, else the milliseconds until one is available. */
  take(key: string, now = Date.now()): number {
    const b = this.buckets.get(key) ?? { tokens: this.rate.burst, at: now };
    b.tokens = Math.min(this.rate.burst, b.tokens + ((now - b.at) / 1000) * this.rate.perSecond);
    b.at = now;
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.rate.perSecond) * 1000);
  }
}
