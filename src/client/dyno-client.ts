// DynoClient: the token-aware client: topology from the seeds, each key straight to its owner's pooled ioredis connection,
// failover, retries, micro-batches, quotas, metrics. Never lets an error escape as an unhandled rejection, never waits unbounded.
import { Redis, type RedisCommander } from 'ioredis';
import { ClientCore, invoke } from './client-core.ts';
import { NodeMetrics, nodeStats, renderMetricsText, type ClientStats } from './client-metrics.ts';
import { flattenArgs, locateKeys, type Arg } from './command-keys.ts';
import { DynoError } from './dyno-error.ts';
import { DynoPipeline, runPipeline, type QueuedCommand } from './dyno-pipeline.ts';
import { clientQuota, nodeQuota, type Interceptor, type QuotaOptions } from './interceptors.ts';
import { runSplit } from './micro-batch.ts';
import { NodePool, poolConfig, type Level, type PoolConfig, type PoolOptions } from './node-pool.ts';
import { RetryPolicy, type RetryOptions } from './retry-policy.ts';
import { RingRouter, type Affinity } from './ring-router.ts';
import { discoverTopology, type ClientNode, type ClientPortOf, type ClientTopology } from './topology-source.ts';

export type Consistency = 'DC_ONE' | 'DC_QUORUM' | 'DC_SAFE_QUORUM';

export interface DynoClientOptions {
  /** Admin API URLs (stats_listen) of one or more nodes, e.g. http://10.0.0.1:22222. Listing every node also shows each one's own state. */
  seeds: readonly string[];
  /** The client's datacenter and rack: its preferred replicas live there. Default: the first rack of the topology. */
  dc?: string;
  rack?: string;
  /** Default 'rack'. */
  affinity?: Affinity;
  /** Sent as DYNO_CONFIG:CONN_CONSISTENCY on this client's connections; default: the nodes' own levels. */
  consistency?: Consistency;
  /** Client (RESP) port of nodes no seed describes itself: one port for all, or a function of the node. */
  clientPort?: number | ClientPortOf;
  /** Topology refresh period (default 10 000 ms); a node failing also triggers one (at most one a second). */
  refreshIntervalMs?: number;
  /** Per seed request (default 2000 ms). */
  discoveryTimeoutMs?: number;
  pool?: PoolOptions;
  /** Reads retry by default (exponential, 3 attempts, 2 s budget); writes do not unless given a policy here. */
  retry?: { reads?: RetryOptions; writes?: RetryOptions };
  /** Token buckets: one for the client, one per node. Over quota: DynoError QUOTA_EXCEEDED at once. */
  quota?: { client?: QuotaOptions; node?: QuotaOptions };
  /** Run before every request leaves, after the quotas; throw to refuse it. */
  interceptors?: readonly Interceptor[];
  /** A node whose smoothed latency is above factor x the median of the others and above minMs is routed around. false: off. */
  outlier?: { factor?: number; minMs?: number } | false;
  /** How long a node that refused a request for its state (STANDBY ...) is routed around without a refresh saying so (default 5000 ms). */
  stateHoldMs?: number;
}

type Callback = (err: Error | null, result?: unknown) => void;

// Typed as ioredis' commands (signatures and replies); the methods are installed on the prototype below.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface DynoClient extends Omit<RedisCommander<{ type: 'default' }>, 'pipeline' | 'multi'> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DynoClient {
  private core: ClientCore;
  private readonly seeds: readonly URL[];
  private readonly opts: DynoClientOptions;
  private readonly cfg: PoolConfig;
  private readonly metricsByNode = new Map<string, NodeMetrics>();
  private readonly timers: NodeJS.Timeout[] = [];
  private level: Level;
  private closed = false;
  private refreshing: Promise<void> | null = null;
  private lastRefreshStart = 0;
  private refreshes = 0;
  private refreshErrors = 0;
  private lastRefreshAt = 0;

  /** Discovers the topology from the seeds and returns a ready client; rejects with a DynoError (never hangs past discoveryTimeoutMs). */
  static async connect(opts: DynoClientOptions): Promise<DynoClient> {
    if (!Array.isArray(opts.seeds) || opts.seeds.length === 0) throw new DynoError('BAD_ARGUMENTS', 'seeds: give at least one admin API URL');
    const seeds = opts.seeds.map((s) => {
      try {
        return new URL(s);
      } catch {
        throw new DynoError('BAD_ARGUMENTS', `seed ${JSON.stringify(s)} is not a URL (e.g. http://127.0.0.1:22222)`);
      }
    });
    const topology = await discoverTopology(seeds, opts.discoveryTimeoutMs ?? 2000, clientPortOf(opts));
    return new DynoClient(opts, seeds, topology);
  }

  private constructor(opts: DynoClientOptions, seeds: URL[], topology: ClientTopology) {
    this.opts = opts;
    this.seeds = seeds;
    this.cfg = poolConfig(opts.pool);
    this.level = opts.consistency ?? 'default';
    const interceptors: Interceptor[] = [];
    if (opts.quota?.client !== undefined) interceptors.push(clientQuota(opts.quota.client));
    if (opts.quota?.node !== undefined) interceptors.push(nodeQuota(opts.quota.node));
    interceptors.push(...(opts.interceptors ?? []));
    const router = this.routerFor(topology);
    this.core = new ClientCore(router, this.poolsFor(router, []), {
      readRetry: new RetryPolicy(opts.retry?.reads ?? {}),
      writeRetry: new RetryPolicy(opts.retry?.writes ?? { policy: 'none' }),
      interceptors,
      stateHoldMs: opts.stateHoldMs ?? 5000,
    });
    this.core.onTrouble = () => this.refreshSoon();
    this.lastRefreshAt = Date.now();
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(opts.refreshIntervalMs ?? 10_000, () => void this.refresh().catch(() => {}));
    every(this.cfg.healthCheckIntervalMs, () => this.healthTick());
  }

  private routerFor(t: ClientTopology): RingRouter {
    return new RingRouter(t, { dc: this.opts.dc, rack: this.opts.rack, affinity: this.opts.affinity ?? 'rack' });
  }

  /** Pools for the router's nodes, keeping those of nodes that are still there at the same address. */
  private poolsFor(router: RingRouter, old: readonly NodePool[]): NodePool[] {
    const kept = new Set<NodePool>();
    const pools = router.nodes.map((n) => {
      const had = old.find((p) => p.node.id === n.id && p.node.host === n.host && p.node.clientPort === n.clientPort && !kept.has(p));
      if (had !== undefined) {
        kept.add(had);
        had.node = n;
        return had;
      }
      let m = this.metricsByNode.get(n.name);
      if (m === undefined) this.metricsByNode.set(n.name, (m = new NodeMetrics()));
      return new NodePool(n, m, this.cfg);
    });
    for (const p of old) if (!kept.has(p)) p.close();
    return pools;
  }

  /** Fetches the topology again; keeps the current one (and counts an error) when no seed answers. */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.refreshing !== null) return this.refreshing;
    this.lastRefreshStart = performance.now();
    const run = async (): Promise<void> => {
      try {
        const t = await discoverTopology(this.seeds, this.opts.discoveryTimeoutMs ?? 2000, clientPortOf(this.opts));
        if (this.closed) return;
        const router = this.routerFor(t);
        this.core.pools = this.poolsFor(router, this.core.pools);
        this.core.router = router;
        this.refreshes++;
        this.lastRefreshAt = Date.now();
      } catch (err) {
        this.refreshErrors++;
        throw err;
      } finally {
        this.refreshing = null;
      }
    };
    this.refreshing = run();
    return this.refreshing;
  }

  private refreshSoon(): void {
    if (this.closed || performance.now() - this.lastRefreshStart < 1000) return;
    void this.refresh().catch(() => {});
  }

  private healthTick(): void {
    const pools = this.core.pools;
    for (const p of pools) p.healthCheck();
    const o = this.opts.outlier;
    if (o === false) return;
    const factor = o?.factor ?? 5;
    const minMs = o?.minMs ?? 50;
    const live = pools.filter((p) => !p.down && p.ewmaMs > 0).map((p) => p.ewmaMs).sort((a, b) => a - b);
    const median = live.length === 0 ? 0 : live[live.length >> 1];
    for (const p of pools) p.slow = live.length >= 3 && p.ewmaMs > minMs && p.ewmaMs > factor * median;
  }

  /** The nodes as last discovered. */
  get nodes(): readonly ClientNode[] {
    return this.core.router.nodes;
  }

  /** The same client, sending this consistency level on its requests (connections configured for it are pooled apart). */
  withConsistency(level: Consistency): DynoClient {
    const view = Object.create(this) as DynoClient;
    view.level = level;
    return view;
  }

  /** Any command by name with ioredis' arguments: routed by its keys (the server's command table), split when it spans owners. */
  call(command: string, ...args: unknown[]): Promise<unknown> {
    return this.dispatch(command.toLowerCase(), command.toLowerCase(), args);
  }

  /** Runs `name` (its ioredis method `method`, e.g. getBuffer); a trailing function argument is a Node-style callback. */
  dispatch(name: string, method: string, args: unknown[]): Promise<unknown> {
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as Callback) : null;
    const p = this.closed ? Promise.reject(new DynoError('CLOSED', 'the client is closed')) : this.route(name, method, args);
    if (cb !== null) p.then((r) => cb(null, r), (e: Error) => cb(e));
    return p;
  }

  private route(name: string, method: string, args: unknown[]): Promise<unknown> {
    // get/set and other one-key commands with the key first skip the table walk and, usually, every layer but one.
    const isWrite = FAST_SINGLE.get(name);
    const key = args[0];
    if (isWrite !== undefined && (typeof key === 'string' || Buffer.isBuffer(key))) {
      return this.core.runCommand(this.core.router.hashKey(key), name, isWrite, this.level, method, args);
    }
    return this.routeByTable(name, method, args);
  }

  private async routeByTable(name: string, method: string, args: unknown[]): Promise<unknown> {
    const core = this.core;
    const flat = flattenArgs(args);
    const kc = locateKeys(name, flat);
    const keys = kc.keys.map((i) => flat[i]);
    switch (kc.spec.route) {
      case 'split-concat':
        return this.splitConcat(name, method, keys);
      case 'split-sum':
        return this.splitSum(name, method, keys, kc.isWrite);
      case 'split-pairs':
        return this.splitPairs(name, method, flat);
      default: {
        const hash = keys.length > 0 ? core.router.hashKey(keys[0]) : core.keylessHash();
        return core.runCommand(hash, name, kc.isWrite, this.level, method, args);
      }
    }
  }

  /** MGET: one piece per owner, values back in the caller's key order (null for missing keys). */
  private async splitConcat(name: string, method: string, keys: readonly Arg[]): Promise<unknown[]> {
    const out: unknown[] = new Array<unknown>(keys.length).fill(null);
    const hashes = keys.map((k) => this.core.router.hashKey(k));
    await runSplit(this.core, name, false, this.level, hashes, async (c, idx) => {
      const vals = (await invoke(c.redis, method, [idx.map((i) => keys[i])])) as unknown[];
      for (let j = 0; j < idx.length; j++) out[idx[j]] = vals[j];
    });
    return out;
  }

  /** DEL, UNLINK, EXISTS, TOUCH: one piece per owner, the counts summed. */
  private async splitSum(name: string, method: string, keys: readonly Arg[], isWrite: boolean): Promise<number> {
    let sum = 0;
    const hashes = keys.map((k) => this.core.router.hashKey(k));
    await runSplit(this.core, name, isWrite, this.level, hashes, async (c, idx) => {
      sum += Number(await invoke(c.redis, method, [idx.map((i) => keys[i])]));
    });
    return sum;
  }

  /** MSET: key/value pairs per owner; OK once every piece is. */
  private async splitPairs(name: string, method: string, flat: readonly Arg[]): Promise<'OK'> {
    const hashes: number[] = [];
    for (let i = 0; i < flat.length; i += 2) hashes.push(this.core.router.hashKey(flat[i]));
    await runSplit(this.core, name, true, this.level, hashes, async (c, idx) => {
      const pairs: Arg[] = [];
      for (const i of idx) pairs.push(flat[2 * i], flat[2 * i + 1]);
      await invoke(c.redis, method, pairs);
    });
    return 'OK';
  }

  /** Commands queued and sent by exec(): one ioredis pipeline per owner, results in queue order as [error, result] pairs. */
  pipeline(commands?: readonly (readonly unknown[])[]): DynoPipeline {
    const p = new DynoPipeline((queue: readonly QueuedCommand[]) => runPipeline(this.core, this.level, queue));
    for (const [name, ...args] of commands ?? []) p.add(String(name).toLowerCase(), String(name).toLowerCase(), args);
    return p;
  }

  stats(): ClientStats {
    const now = performance.now();
    const nodes = this.core.pools.map((p, i) => nodeStats(p.node, p.metrics, {
      connections: p.connections, inUse: p.inUse,
      health: p.down ? 'down' : p.slow ? 'slow' : p.refusedUntil > now ? 'refusing' : this.core.usable(i, false, now) ? 'up' : p.node.state,
    }));
    return {
      nodes,
      topology: { refreshes: this.refreshes, refreshErrors: this.refreshErrors, nodes: nodes.length, lastRefreshAt: this.lastRefreshAt },
      shed: nodes.reduce((s, n) => s + n.shed, 0),
    };
  }

  /** stats() as Prometheus text (dyno_client_* metrics, one series per node). */
  metricsText(): string {
    return renderMetricsText(this.stats());
  }

  /** Closes every connection and stops the timers; requests after it reject with DynoError CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const p of this.core.pools) p.close();
    await this.refreshing?.catch(() => {});
  }
}

/** Commands whose only key is the first argument and that take the direct path (no table walk): name -> is a write. */
const FAST_SINGLE = new Map([
  ['get', false], ['set', true], ['incr', true], ['decr', true], ['expire', true], ['ttl', false], ['hget', false], ['hset', true], ['hgetall', false],
]);

function clientPortOf(o: DynoClientOptions): ClientPortOf | undefined {
  const p = o.clientPort;
  return typeof p === 'number' ? () => p : p;
}

/** Every command ioredis knows and every one of the server's table, as methods (and their *Buffer variants). */
function installCommands(): void {
  const proto = DynoClient.prototype as unknown as Record<string, unknown>;
  const names = new Set([...(Redis.prototype as unknown as { getBuiltinCommands(): string[] }).getBuiltinCommands()]);
  names.delete('multi');
  names.delete('pipeline');
  for (const name of names) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) continue;
    for (const method of [name, `${name}Buffer`]) {
      if (method in proto) continue;
      proto[method] = function (this: DynoClient, ...args: unknown[]) {
        return this.dispatch(name, method, args);
      };
    }
  }
}
installCommands();
