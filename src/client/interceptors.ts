// Interceptor chain run before every request leaves for a node: quotas (token buckets per client and per node) and caller hooks.
// Never waits and never queues: a request over quota fails at once with DynoError QUOTA_EXCEEDED (load shedding).
import { DynoError } from './dyno-error.ts';

/** What an interceptor sees of a request about to be sent. */
export interface RequestInfo {
  /** Lowercase command name ('get', 'mget', 'pipeline' ...). */
  readonly command: string;
  readonly isWrite: boolean;
  /** host:port of the node it goes to. */
  readonly node: string;
  /** 0 for the first attempt. */
  readonly attempt: number;
  /** Commands in it (a micro-batch or pipeline piece counts each). */
  readonly weight: number;
}

/** Throw (a DynoError ideally) to refuse the request; return to let it go. */
export type Interceptor = (req: RequestInfo) => void;

export interface QuotaOptions {
  /** Requests per second refilled. */
  ratePerSec: number;
  /** Bucket size: how many may go at once after a quiet spell (default ratePerSec). */
  burst?: number;
}

/** A token bucket refilled continuously from a monotonic clock. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(o: QuotaOptions, now: () => number = () => performance.now()) {
    if (!(o.ratePerSec > 0)) throw new RangeError('quota ratePerSec must be > 0');
    this.rate = o.ratePerSec / 1000;
    this.burst = Math.max(1, o.burst ?? o.ratePerSec);
    this.tokens = this.burst;
    this.now = now;
    this.last = now();
  }

  tryTake(n = 1): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) * this.rate);
    this.last = t;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/** One bucket for the whole client. */
export function clientQuota(o: QuotaOptions): Interceptor {
  const bucket = new TokenBucket(o);
  return (req) => {
    if (!bucket.tryTake(req.weight)) throw new DynoError('QUOTA_EXCEEDED', `client quota of ${o.ratePerSec}/s exceeded (${req.command})`, { node: req.node });
  };
}

/** One bucket per node. */
export function nodeQuota(o: QuotaOptions): Interceptor {
  const buckets = new Map<string, TokenBucket>();
  return (req) => {
    let b = buckets.get(req.node);
    if (b === undefined) buckets.set(req.node, (b = new TokenBucket(o)));
    if (!b.tryTake(req.weight)) throw new DynoError('QUOTA_EXCEEDED', `node ${req.node} quota of ${o.ratePerSec}/s exceeded (${req.command})`, { node: req.node });
  };
}
