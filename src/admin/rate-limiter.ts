// RateLimiter: a token bucket per client address, so one noisy scraper cannot take the admin thread from the others.
// Never grows without bound: idle buckets are forgotten, and at most maxKeys addresses are tracked.

export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size (the burst allowed). */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly limit: RateLimit;
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(limit: RateLimit, maxKeys = 4096) {
    this.limit = limit;
    this.maxKeys = maxKeys;
  }

  /** Take one token for `key` at time `now` (ms); false when the bucket is empty. */
  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.forgetIdle(now);
      // Still full of strangers: they share one bucket rather than growing the map.
      if (this.buckets.size >= this.maxKeys) key = '*';
      b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Buckets that refilled completely carry no information. */
  private forgetIdle(now: number): void {
    const full = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
