// ClientCore: picks the replica for a hash (skipping nodes down, not NORMAL, refusing or slow), runs attempts through interceptors and
// pools; run() adds failover and retries, runCommand() a lean first attempt for plain commands. Never swallows an error.
import type { Redis } from 'ioredis';
import { flattenArgs } from './command-keys.ts';
import { DynoError, isNodeFaultReply, isStateReply } from './dyno-error.ts';
import type { Interceptor, RequestInfo } from './interceptors.ts';
import type { Level, NodePool, PooledConnection } from './node-pool.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { UNPLACEABLE, type RingRouter } from './ring-router.ts';

/** A failed attempt another replica (or a later try) may fix; `sent` when the request may have reached the datastore. */
export class Retryable {
  readonly cause: unknown;
  readonly sent: boolean;
  readonly node: number;

  constructor(cause: unknown, sent: boolean, node: number) {
    this.cause = cause;
    this.sent = sent;
    this.node = node;
  }
}

export type Send<T> = (conn: PooledConnection) => Promise<T>;

function isReplyError(e: unknown): e is Error {
  return (e as { name?: unknown } | null)?.name === 'ReplyError';
}

/** ioredis refused to write (no offline queue): nothing left the client. "Connection is closed" is not here: a request in flight
 * when its node died may have been applied. */
const NOT_SENT = /Stream isn't writeable|connect timed out/;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ClientCore {
  router: RingRouter;
  pools: NodePool[];
  readonly readRetry: RetryPolicy;
  readonly writeRetry: RetryPolicy;
  readonly interceptors: readonly Interceptor[];
  /** How long a node that answered with a state refusal (STANDBY ...) is routed around, absent a refresh saying otherwise. */
  readonly stateHoldMs: number;
  /** Called when a node looks unwell: the client refreshes its topology soon. */
  onTrouble: () => void = () => {};
  shedBeforeNode = 0;
  private keyless = 0;

  constructor(router: RingRouter, pools: NodePool[], o: { readRetry: RetryPolicy; writeRetry: RetryPolicy; interceptors: readonly Interceptor[]; stateHoldMs: number }) {
    this.router = router;
    this.pools = pools;
    this.readRetry = o.readRetry;
    this.writeRetry = o.writeRetry;
    this.interceptors = o.interceptors;
    this.stateHoldMs = o.stateHoldMs;
  }

  /** A hash for a request without a key: spreads them over the ring. */
  keylessHash(): number {
    this.keyless = (this.keyless + 0x9e3779b9) >>> 0;
    return this.keyless;
  }

  /** May requests of this kind go to node i now? */
  usable(i: number, isWrite: boolean, now: number): boolean {
    const p = this.pools[i];
    if (p.down || p.slow || p.refusedUntil > now || p.node.clientPort === 0) return false;
    const s = p.node.state;
    if (s === 'normal' || s === 'unknown') return true;
    return isWrite && (s === 'writes_only' || s === 'resuming');
  }

  /**
   * The node for the next attempt: the first usable replica not tried yet; else the first untried one whatever its health
   * (it may have recovered); else, every replica tried, the first usable one again. -1 when the ring places the hash nowhere.
   */
  pick(hash: number, isWrite: boolean, tried: readonly number[]): number {
    const r = this.router;
    const now = performance.now();
    const count = r.replicaCount;
    let untried = -1;
    let any = -1;
    for (let n = 0; n < count; n++) {
      const node = r.replica(hash, n);
      if (node === UNPLACEABLE || node < 0) continue;
      const usable = this.usable(node, isWrite, now);
      if (!tried.includes(node)) {
        if (usable) return node;
        if (untried < 0) untried = node;
      } else if (usable && any < 0) any = node;
    }
    if (untried >= 0) return untried;
    if (any >= 0) return any;
    for (let n = 0; n < count; n++) {
      const node = r.replica(hash, n);
      if (node >= 0) return node;
    }
    return -1;
  }

  noOwner(command: string): DynoError {
    return new DynoError('NO_OWNER', `'${command}': no rack can place the key (its nodes have no tokens)`);
  }

  /** One attempt on node `node`: interceptors, a pooled connection, the send; maps failures to Retryable. */
  async attemptOn<T>(node: number, hash: number, command: string, isWrite: boolean, weight: number, level: Level, attempt: number, send: Send<T>): Promise<T> {
    const pool = this.pools[node];
    const m = pool.metrics;
    if (this.interceptors.length > 0) {
      const info: RequestInfo = { command, isWrite, node: pool.node.name, attempt, weight };
      for (const ic of this.interceptors) {
        try {
          ic(info);
        } catch (err) {
          m.shed++;
          throw err;
        }
      }
    }
    let conn: PooledConnection;
    try {
      const c = pool.acquire(level);
      conn = c instanceof Promise ? await c : c;
    } catch (err) {
      if (err instanceof DynoError && err.code === 'CLOSED') throw err;
      m.errors++;
      this.onTrouble();
      throw new Retryable(err, false, node);
    }
    if (attempt > 0) m.retries++;
    if (this.router.replica(hash, 0) !== node) m.failovers++;
    m.requests++;
    pool.inUse++;
    const t0 = performance.now();
    conn.begin(t0);
    try {
      const r = await send(conn);
      pool.settle(conn, t0, null);
      m.recordLatencyMs(conn.lastUsed - t0);
      return r;
    } catch (err) {
      throw this.attemptFailed(pool, conn, t0, node, err);
    }
  }

  /** Book-keeping of an attempt that failed on `node`: the Retryable to act on, or (a plain reply error) the error itself to throw. */
  private attemptFailed(pool: NodePool, conn: PooledConnection, t0: number, node: number, err: unknown): unknown {
    pool.settle(conn, t0, err);
    if (isReplyError(err)) {
      if (!isNodeFaultReply(err.message)) return err;
      pool.metrics.errors++;
      const refused = isStateReply(err.message);
      if (refused) pool.refusedUntil = performance.now() + this.stateHoldMs;
      this.onTrouble();
      return new Retryable(err, !refused, node);
    }
    this.onTrouble();
    return new Retryable(err, !NOT_SENT.test((err as Error).message ?? ''), node);
  }

  /**
   * After a failed attempt: the delay before the next one, or the error to give the caller. A request that never left is
   * failed over at once (to each replica once); one that may have applied is retried only under the policy (writes opt in).
   */
  nextDelay(f: Retryable, isWrite: boolean, startedMs: number, attempts: number, triedCount: number): number {
    if (!f.sent && triedCount < this.router.replicaCount) return 0;
    const policy = isWrite ? this.writeRetry : this.readRetry;
    const delay = policy.delay(attempts);
    const elapsed = performance.now() - startedMs;
    if (policy.allows(attempts, elapsed, delay)) return delay;
    throw this.finalError(f, policy.policy !== 'none' && attempts < policy.maxAttempts);
  }

  finalError(f: Retryable, budgetSpent: boolean): Error {
    const c = f.cause;
    const node = this.pools[f.node]?.node.name;
    if (budgetSpent) return new DynoError('RETRY_BUDGET_EXHAUSTED', `retry budget spent; last failure on ${node}: ${(c as Error).message}`, { node, cause: c });
    if (c instanceof DynoError) return c;
    if (isReplyError(c)) return c;
    return new DynoError('NODE_UNAVAILABLE', `${node}: ${(c as Error).message}`, { retryable: true, node, cause: c });
  }

  /** One request by hash: pick, attempt, fail over and retry until it succeeds or the policy says stop. */
  async run<T>(hash: number, command: string, isWrite: boolean, level: Level, send: Send<T>, tried: number[] = [], attempts = 0, started = performance.now()): Promise<T> {
    for (;;) {
      const node = this.pick(hash, isWrite, tried);
      if (node < 0) throw this.noOwner(command);
      try {
        return await this.attemptOn(node, hash, command, isWrite, 1, level, tried.length, send);
      } catch (err) {
        if (!(err instanceof Retryable)) throw err;
        attempts = await this.afterFailure(err, node, isWrite, started, attempts, tried);
      }
    }
  }

  /** Records the failed node as tried and waits out the delay before the next attempt; returns the attempts counted, or throws the final error. */
  private async afterFailure(f: Retryable, node: number, isWrite: boolean, started: number, attempts: number, tried: number[]): Promise<number> {
    if (!tried.includes(node)) tried.push(node);
    if (f.sent || tried.length >= this.router.replicaCount) attempts++;
    const delay = this.nextDelay(f, isWrite, started, attempts, tried.length);
    if (delay > 0) await sleep(delay);
    return attempts;
  }

  /**
   * One command `method(...args)` by hash. When no interceptor is set and the preferred replica is usable with an open
   * connection, the first attempt runs inline (one async frame, no closure, no `tried` array); anything else, and every
   * failure of that attempt, continues on run() with the same failover and retry rules.
   */
  async runCommand(hash: number, command: string, isWrite: boolean, level: Level, method: string, args: readonly unknown[]): Promise<unknown> {
    const node = this.interceptors.length === 0 ? this.router.replica(hash, 0) : -1;
    const conn = node >= 0 && this.usable(node, isWrite, performance.now()) ? this.pools[node].acquireNow(level) : null;
    if (conn === null) return this.run(hash, command, isWrite, level, (c) => invoke(c.redis, method, args));
    const pool = this.pools[node];
    const m = pool.metrics;
    m.requests++;
    pool.inUse++;
    const t0 = performance.now();
    conn.begin(t0);
    let f: unknown;
    try {
      const r = await invoke(conn.redis, method, args);
      pool.settle(conn, t0, null);
      m.recordLatencyMs(conn.lastUsed - t0);
      return r;
    } catch (err) {
      f = this.attemptFailed(pool, conn, t0, node, err);
    }
    if (!(f instanceof Retryable)) throw f;
    const tried: number[] = [];
    const attempts = await this.afterFailure(f, node, isWrite, t0, 0, tried);
    return this.run(hash, command, isWrite, level, (c) => invoke(c.redis, method, args), tried, attempts, t0);
  }
}

/** Calls ioredis' method `method` (e.g. get, getBuffer) on `target`, or sends the command by name when ioredis has no such method. */
export function invoke(target: Redis, method: string, args: readonly unknown[]): Promise<unknown> {
  const f = (target as unknown as Record<string, unknown>)[method];
  if (typeof f === 'function') return (f as (...a: unknown[]) => Promise<unknown>).apply(target, args as unknown[]);
  return target.call(method, ...(flattenArgs(args) as (string | Buffer)[]));
}

export { sleep };
