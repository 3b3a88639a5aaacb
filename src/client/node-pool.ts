// NodePool: persistent ioredis connections to one node, per consistency level, with limits, health checks (PING), idle closing,
// request timeouts checked per connection (no timer per request) and each tick's writes sent in one system call.
// Never retries or reroutes a request itself, and never lets a connection reconnect on its own: a failed connection is recycled.
import { Redis } from 'ioredis';
import { DynoError } from './dyno-error.ts';
import type { NodeMetrics } from './client-metrics.ts';
import type { ClientNode } from './topology-source.ts';

export interface PoolOptions {
  /** Connections per node and consistency level (default 1: ioredis pipelines requests on it; more measured slower here). */
  maxConnections?: number;
  /** Kept open even when idle (default 1). */
  minConnections?: number;
  /** Requests in flight per node before new ones fail with POOL_EXHAUSTED (default 10000). */
  maxInFlight?: number;
  /** Default 1000 ms. */
  connectTimeoutMs?: number;
  /** A request not answered in this time fails, at most a quarter of it late (default 1000 ms). */
  requestTimeoutMs?: number;
  /** A connection unused this long is closed, down to minConnections (default 60 000 ms). */
  idleTimeoutMs?: number;
  /** Idle connections are PINGed, and a down node probed, this often (default 1000 ms). */
  healthCheckIntervalMs?: number;
  /** Consecutive failures (timeouts, connection errors) that mark a node down (default 2). A refused or closed connection does at once. */
  failuresToMarkDown?: number;
  /** AUTH password of the nodes' client port. */
  password?: string;
}

export type PoolConfig = Required<Omit<PoolOptions, 'password'>> & { password: string | undefined };

export function poolConfig(o: PoolOptions = {}): PoolConfig {
  return {
    maxConnections: Math.max(1, o.maxConnections ?? 1),
    minConnections: Math.max(0, o.minConnections ?? 1),
    maxInFlight: Math.max(1, o.maxInFlight ?? 10_000),
    connectTimeoutMs: o.connectTimeoutMs ?? 1000,
    requestTimeoutMs: o.requestTimeoutMs ?? 1000,
    idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
    healthCheckIntervalMs: o.healthCheckIntervalMs ?? 1000,
    failuresToMarkDown: Math.max(1, o.failuresToMarkDown ?? 2),
    password: o.password,
  };
}

/** 'default' keeps the node's own consistency; a level is sent as DYNO_CONFIG:CONN_CONSISTENCY when the connection opens. */
export type Level = 'default' | 'DC_ONE' | 'DC_QUORUM' | 'DC_SAFE_QUORUM';

/** Ends a write batch begun by PooledConnection.begin (a module function, so that no closure is made per batch). */
function flushBatch(conn: PooledConnection): void {
  const s = conn.corked;
  conn.corked = null;
  s?.uncork();
}

/** The pool's request timeout check and its confirmation (module functions: the timers pass the pool, no closure). */
function expireStalled(pool: NodePool): void {
  pool.expireStalled();
}

function confirmStalled(pool: NodePool): void {
  pool.confirmStalled();
}

export class PooledConnection {
  readonly redis: Redis;
  readonly level: Level;
  inFlight = 0;
  /** When a request last left an idle connection or a reply last came back: the oldest request waiting is at least this old. */
  lastUsed = performance.now();
  closed = false;
  /** The socket held corked until the next tick, while commands of this tick are written to it. */
  corked: Redis['stream'] | null = null;

  constructor(redis: Redis, level: Level) {
    this.redis = redis;
    this.level = level;
  }

  /**
   * A request is about to be written at `now`. Its write is held with the others of this tick and all go in one writev on the
   * next tick: each command is still its own ioredis command (own reply and error), but callers woken by one read cost one
   * system call, not one each.
   */
  begin(now: number): void {
    if (this.inFlight++ === 0) this.lastUsed = now;
    if (this.corked !== null) return;
    const s = this.redis.stream as Redis['stream'] | undefined;
    if (s === undefined || !s.writable) return;
    this.corked = s;
    s.cork();
    setImmediate(flushBatch, this);
  }

  /** Fails every request waiting on this connection with a timeout (as ioredis' commandTimeout would); false when none was. */
  timeOut(ms: number): boolean {
    const waiting = this.redis.commandQueue.toArray();
    const err = new Error(`Command timed out after ${ms} ms`);
    for (const item of waiting) item.command.reject(err);
    return waiting.length > 0;
  }
}

/** True for failures of the link itself (the node may be gone), as opposed to a reply. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  return e.name !== 'ReplyError' && !(err instanceof DynoError && err.code === 'QUOTA_EXCEEDED');
}

function isTimeout(err: unknown): boolean {
  return /timed out/i.test((err as Error).message ?? '');
}

export class NodePool {
  /** Replaced by a refresh that finds the node at the same address (its state or tokens may have changed). */
  node: ClientNode;
  readonly metrics: NodeMetrics;
  private readonly cfg: PoolConfig;
  private readonly sets = new Map<Level, PooledConnection[]>();
  private readonly opening = new Map<Level, Promise<PooledConnection>>();
  private watchdog: NodeJS.Timeout | null = null;
  private confirming = false;
  inUse = 0;
  down = false;
  private failures = 0;
  private probing = false;
  private closed = false;
  /** Smoothed round trip (ms) for outlier detection. */
  ewmaMs = 0;
  /** Set by the client when ewmaMs stands out from the other nodes' (an outlier): routed around while another replica serves. */
  slow = false;
  /** performance.now() until which the node is routed around after refusing a request for its state (STANDBY ...). */
  refusedUntil = 0;

  constructor(node: ClientNode, metrics: NodeMetrics, cfg: PoolConfig) {
    this.node = node;
    this.metrics = metrics;
    this.cfg = cfg;
  }

  get connections(): number {
    let n = 0;
    for (const s of this.sets.values()) n += s.length;
    return n;
  }

  /** A connection for this level: the least busy open one, opening another while all are busy and the limit allows. */
  acquire(level: Level): PooledConnection | Promise<PooledConnection> {
    if (this.closed) throw new DynoError('CLOSED', 'the client is closed');
    if (this.node.clientPort === 0) throw new DynoError('NODE_UNAVAILABLE', `no client port known for ${this.node.id}`, { retryable: true, node: this.node.name });
    if (this.inUse >= this.cfg.maxInFlight) throw new DynoError('POOL_EXHAUSTED', `${this.node.name}: ${this.inUse} requests in flight`, { retryable: true, node: this.node.name });
    const set = this.sets.get(level);
    let best: PooledConnection | null = null;
    if (set !== undefined) for (const c of set) if (best === null || c.inFlight < best.inFlight) best = c;
    if (best !== null) {
      if (best.inFlight > 0 && set!.length < this.cfg.maxConnections) void this.open(level).catch(() => {});
      return best;
    }
    return this.open(level);
  }

  /** acquire() when it can answer at once with an open connection; null when it would open one, wait or fail (take acquire()). */
  acquireNow(level: Level): PooledConnection | null {
    if (this.closed || this.inUse >= this.cfg.maxInFlight) return null;
    const set = this.sets.get(level);
    if (set === undefined || set.length === 0) return null;
    let best = set[0];
    for (let i = 1; i < set.length; i++) if (set[i].inFlight < best.inFlight) best = set[i];
    if (best.inFlight > 0 && set.length < this.cfg.maxConnections) void this.open(level).catch(() => {});
    return best;
  }

  /**
   * Request timeouts without a timer per request: a connection with requests waiting that has answered nothing for
   * requestTimeoutMs has its requests failed ("timed out"), then settle() recycles it. Replies come in order, so its oldest
   * request has waited at least that long; it fails at most a quarter of the timeout late. This runs in the timers phase,
   * before the loop reads sockets: after a stall of the event loop replies may be waiting unread, so a suspect is
   * confirmed in the check phase, after the poll phase has read them.
   */
  expireStalled(): void {
    if (this.confirming || this.stalled(performance.now()) === null) return;
    this.confirming = true;
    setImmediate(confirmStalled, this);
  }

  /** The first connection with requests waiting and no reply for requestTimeoutMs, or null. */
  private stalled(now: number): PooledConnection | null {
    for (const set of this.sets.values()) {
      for (const c of set) if (c.inFlight > 0 && now - c.lastUsed >= this.cfg.requestTimeoutMs) return c;
    }
    return null;
  }

  /** Fails the requests of every connection still stalled. */
  confirmStalled(): void {
    this.confirming = false;
    const now = performance.now();
    for (const set of this.sets.values()) {
      for (const c of [...set]) {
        if (c.inFlight === 0 || now - c.lastUsed < this.cfg.requestTimeoutMs) continue;
        if (!c.timeOut(this.cfg.requestTimeoutMs)) this.drop(c, true);
      }
    }
  }

  /** Opens one connection for the level (one at a time per level), PINGed or configured before it is used. */
  private open(level: Level): Promise<PooledConnection> {
    const pending = this.opening.get(level);
    if (pending !== undefined) return pending;
    const p = this.connect(level).finally(() => this.opening.delete(level));
    this.opening.set(level, p);
    return p;
  }

  private async connect(level: Level): Promise<PooledConnection> {
    const redis = new Redis({
      host: this.node.host, port: this.node.clientPort, password: this.cfg.password, lazyConnect: true,
      // No commandTimeout: it arms and clears a timer per command; expireStalled() enforces requestTimeoutMs per connection.
      connectTimeout: this.cfg.connectTimeoutMs,
      maxRetriesPerRequest: 0, enableOfflineQueue: false, enableReadyCheck: false, autoResubscribe: false,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    const conn = new PooledConnection(redis, level);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await redis.connect();
          if (level !== 'default') await redis.call('DYNO_CONFIG:CONN_CONSISTENCY', level);
        })(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connect timed out after ${this.cfg.connectTimeoutMs} ms`)), this.cfg.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      redis.disconnect();
      this.markFailure(err, true);
      throw new DynoError('NODE_UNAVAILABLE', `${this.node.name}: ${(err as Error).message}`, { retryable: true, node: this.node.name, cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) {
      redis.disconnect();
      throw new DynoError('CLOSED', 'the client is closed');
    }
    this.metrics.created++;
    this.markUp();
    let set = this.sets.get(level);
    if (set === undefined) this.sets.set(level, (set = []));
    set.push(conn);
    redis.once('close', () => this.drop(conn, true));
    if (this.watchdog === null) {
      this.watchdog = setInterval(expireStalled, Math.max(5, this.cfg.requestTimeoutMs / 4), this);
      this.watchdog.unref();
    }
    return conn;
  }

  /** Takes a connection out of the pool and closes it. */
  drop(conn: PooledConnection, broken: boolean): void {
    if (conn.closed) return;
    conn.closed = true;
    const set = this.sets.get(conn.level);
    const i = set?.indexOf(conn) ?? -1;
    if (i >= 0) set!.splice(i, 1);
    conn.redis.disconnect();
    if (!this.closed) this.metrics.recycled++;
    if (broken && !this.closed) this.markFailure(new Error('connection closed'), true);
  }

  /** Book-keeping after a request on `conn` ended; err is its failure, if any. */
  settle(conn: PooledConnection, startedMs: number, err: unknown): void {
    conn.inFlight--;
    this.inUse--;
    conn.lastUsed = performance.now();
    if (err === null) {
      const ms = conn.lastUsed - startedMs;
      this.ewmaMs = this.ewmaMs === 0 ? ms : this.ewmaMs * 0.9 + ms * 0.1;
      this.failures = 0;
      return;
    }
    if (!isConnectionError(err)) return;
    this.metrics.errors++;
    if (isTimeout(err)) {
      this.metrics.timeouts++;
      this.markFailure(err, false);
      // A connection with a request stuck behind a stopped node answers nothing after it either.
      this.drop(conn, false);
    } else {
      this.drop(conn, true);
    }
  }

  private markFailure(_err: unknown, immediate: boolean): void {
    this.failures++;
    if (immediate || this.failures >= this.cfg.failuresToMarkDown) this.down = true;
  }

  private markUp(): void {
    this.failures = 0;
    this.down = false;
  }

  /** PINGs idle connections, closes long-idle ones, probes a down node with a fresh connection. */
  healthCheck(): void {
    if (this.closed) return;
    const now = performance.now();
    for (const set of this.sets.values()) {
      for (const c of [...set]) {
        if (c.inFlight > 0) continue;
        const idle = now - c.lastUsed;
        if (idle > this.cfg.idleTimeoutMs && set.length > this.cfg.minConnections) {
          this.drop(c, false);
          continue;
        }
        if (idle < this.cfg.healthCheckIntervalMs) continue;
        c.begin(now);
        this.inUse++;
        c.redis.ping().then(() => this.settle(c, now, null), (err: unknown) => this.settle(c, now, err));
      }
    }
    if (this.down && !this.probing && this.node.clientPort !== 0) {
      this.probing = true;
      this.open('default').then(() => { this.probing = false; }, () => { this.probing = false; });
    }
  }

  close(): void {
    this.closed = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const set of this.sets.values()) for (const c of [...set]) this.drop(c, false);
    this.sets.clear();
  }
}
