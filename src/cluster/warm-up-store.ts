// The local datastore as warm-up sees it: its key count, an id that changes when it restarts, and a restore that never replaces a key
// (a key already there was written after the copy began). One class per datastore kind: redis (ioredis) and memcached (meta commands).
import { Redis } from 'ioredis';
import type { PoolConfig } from '../config/index.ts';
import type { RangeEntry, FetchEntry } from '../protocol/resp/index.ts';
import { encodeMetaAdds, parseMetaSets, type MetaItem } from '../protocol/memcache/index.ts';
import { MemcacheLineClient, backendTlsForRedis } from '../io/index.ts';

export interface LocalStore {
  /** Whether the datastore is connected (a check is not worth trying otherwise). */
  ready(): boolean;
  dbsize(): Promise<number>;
  /** Changes when the datastore restarts (redis: run_id; memcached: its pid). */
  runId(): Promise<string>;
  /** Per entry: 1 restored, 0 the key exists here (kept), else the error text. */
  restore(entries: readonly RangeEntry[]): Promise<unknown[]>;
  close(): void;
}

/**
 * RESTORE of a step's keys in one script call (ARGV: ttl, payload per key), never REPLACE: 1 restored, 0 the key exists (written here
 * after the copy began: kept), else the error text. One command per step: the copy's cost on the datastore's connection stays small.
 */
const RESTORE_ALL = "local out = {} for i, k in ipairs(KEYS) do local r = redis.pcall('RESTORE', k, ARGV[2 * i - 1], ARGV[2 * i]) " +
  "if type(r) == 'table' and r.err then if string.find(r.err, 'BUSYKEY') then out[i] = 0 else out[i] = r.err end else out[i] = 1 end end return out";

/** The mirror's applies (mirror.ts): RESTORE ... REPLACE of each key with the source's value (ARGV: ttl, payload), or DEL (ttl -2). */
const REPLACE_ALL = "for i, k in ipairs(KEYS) do if ARGV[2 * i - 1] == '-2' then redis.call('DEL', k) " +
  "else redis.call('RESTORE', k, ARGV[2 * i - 1], ARGV[2 * i], 'REPLACE') end end return #KEYS";

type LocalRedis = Redis & {
  restoreAll(n: number, ...args: (Buffer | string)[]): Promise<unknown[]>;
  replaceAll(n: number, ...args: (Buffer | string)[]): Promise<number>;
};

export class RedisStore implements LocalStore {
  private readonly r: LocalRedis;

  /** `onReady`: the datastore (re)connected, maybe restarted empty: worth a look at once. */
  constructor(pool: PoolConfig, onReady: () => void) {
    const server = pool.servers[0];
    this.r = new Redis({
      host: server.host, port: server.port, password: pool.requirepass ?? undefined, maxRetriesPerRequest: 1, connectTimeout: 2000,
      tls: backendTlsForRedis(pool.backendTls, server.host),
      commandTimeout: 10_000, retryStrategy: (n) => Math.min(n * 100, 1000),
    }) as LocalRedis;
    this.r.defineCommand('restoreAll', { lua: RESTORE_ALL });
    this.r.defineCommand('replaceAll', { lua: REPLACE_ALL });
    this.r.on('error', () => {});
    this.r.on('ready', onReady);
  }

  ready(): boolean {
    return this.r.status === 'ready';
  }

  dbsize(): Promise<number> {
    return this.r.dbsize();
  }

  async runId(): Promise<string> {
    return /run_id:(\w+)/.exec(await this.r.info('server'))?.[1] ?? '';
  }

  restore(entries: readonly RangeEntry[]): Promise<unknown[]> {
    const args: (Buffer | string)[] = entries.map((e) => e.key);
    // PTTL 0 is filtered out by the caller; -1 (none) is RESTORE's 0.
    for (const e of entries) args.push(String(e.pttl > 0 ? e.pttl : 0), e.dump);
    return this.r.restoreAll(entries.length, ...args);
  }

  /** Up to `limit` of the datastore's keys (SCAN; a key written meanwhile may be left out or listed twice). */
  async keys(limit: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.r.scanBuffer(cursor, 'COUNT', 1000);
      cursor = String(next);
      for (const k of batch) if (out.length < limit) out.push(k);
    } while (cursor !== '0' && out.length < limit);
    return out;
  }

  /** The mirror's values (pttl -2: delete), on the connection the copy restores on: both keep their order. */
  async replace(keys: readonly Buffer[], entries: readonly FetchEntry[]): Promise<void> {
    const args: (Buffer | string)[] = [...keys];
    for (const e of entries) args.push(e.pttl === -2 ? '-2' : String(e.pttl > 0 ? e.pttl : 0), e.pttl === -2 ? '' : e.payload);
    await this.r.replaceAll(keys.length, ...args);
  }

  close(): void {
    this.r.disconnect();
  }
}

/** memcached reads a TTL above 30 days as a unix time. */
const RELATIVE_TTL_MAX = 30 * 24 * 3600;

/**
 * A memcached range entry (peer-memcache-range.ts: payload = flags, 4 bytes big-endian, then the value; pttl in ms, -1 none) as the
 * item to store, its TTL in whole seconds (rounded up, at least 1), past 30 days as a unix time. `now`: unix seconds.
 */
export function metaItemOf(e: RangeEntry, now: number): MetaItem {
  const ttl = e.pttl < 0 ? -1 : Math.max(1, Math.ceil(e.pttl / 1000));
  return { key: e.key, ttl: ttl > RELATIVE_TTL_MAX ? now + ttl : ttl, flags: e.dump.length >= 4 ? e.dump.readUInt32BE(0) : 0, value: e.dump.subarray(4) };
}

export class MemcacheStore implements LocalStore {
  private readonly c: MemcacheLineClient;

  constructor(pool: PoolConfig) {
    const s = pool.servers[0];
    this.c = new MemcacheLineClient(s.host, s.port);
  }

  ready(): boolean {
    return true;
  }

  async dbsize(): Promise<number> {
    return Number((await this.c.stats()).get('curr_items') ?? 0);
  }

  async runId(): Promise<string> {
    return (await this.c.stats()).get('pid') ?? '';
  }

  /** An entry's payload is the item's flags (4 bytes, big-endian) and its value (peer-memcache-range.ts); ms in add mode keeps a newer key. */
  async restore(entries: readonly RangeEntry[]): Promise<unknown[]> {
    const now = Math.floor(Date.now() / 1000);
    const items: MetaItem[] = entries.map((e) => metaItemOf(e, now));
    const reply = await this.c.request(encodeMetaAdds(items), (b) => parseMetaSets(b, items.length)?.end ?? -1);
    return parseMetaSets(reply, items.length)!.results;
  }

  close(): void {
    this.c.close();
  }
}
