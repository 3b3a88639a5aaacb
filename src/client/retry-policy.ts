// RetryPolicy: how long to wait before the next attempt (none, fixed, exponential with full jitter) and when to stop (attempts, total budget).
// Never sleeps itself and never decides what is safe to retry: the client asks shouldRetry() with whether the request may have applied.

export interface RetryOptions {
  /** 'none': one attempt; 'fixed': baseDelayMs between attempts; 'exponential': base * 2^n capped at maxDelayMs, full jitter. */
  policy?: 'none' | 'fixed' | 'exponential';
  /** Attempts in all, the first included (default 3). */
  maxAttempts?: number;
  /** Default 10 ms. */
  baseDelayMs?: number;
  /** Default 500 ms. */
  maxDelayMs?: number;
  /** Total time from the first attempt after which no attempt starts (default 2000 ms). */
  budgetMs?: number;
}

export class RetryPolicy {
  readonly policy: 'none' | 'fixed' | 'exponential';
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly budgetMs: number;
  private readonly random: () => number;

  constructor(o: RetryOptions = {}, random: () => number = Math.random) {
    this.policy = o.policy ?? 'exponential';
    this.maxAttempts = this.policy === 'none' ? 1 : Math.max(1, o.maxAttempts ?? 3);
    this.baseDelayMs = Math.max(0, o.baseDelayMs ?? 10);
    this.maxDelayMs = Math.max(this.baseDelayMs, o.maxDelayMs ?? 500);
    this.budgetMs = Math.max(0, o.budgetMs ?? 2000);
    this.random = random;
  }

  /** Delay before attempt `attempt` (1 = the first retry). */
  delay(attempt: number): number {
    if (this.policy === 'fixed') return this.baseDelayMs;
    if (this.policy === 'none') return 0;
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor(this.random() * cap);
  }

  /** May attempt `attempt` (1 = first retry) start, `elapsedMs` after the first, given the delay before it? */
  allows(attempt: number, elapsedMs: number, delayMs: number): boolean {
    return attempt < this.maxAttempts && elapsedMs + delayMs < this.budgetMs;
  }
}
