// Cleanup: after tokens moved away from this node (a node joined its rack, or this node left), delete the keys it no longer owns from
// its own datastore — SCAN, hash each key as routing does, UNLINK what neither the routing ring nor the shadow ring gives this node.
// Never runs while a move in its rack is still settling (those keys may still be read here); throttled like the warm-up copy.
import { Redis } from 'ioredis';
import { backendTlsForRedis, MemcacheLineClient, endsWithLine } from '../io/index.ts';
import { parseMetadump, encodeMetaDeletes, parseMetaSets } from '../protocol/memcache/index.ts';
import { KeyHasher, intersectHashRanges, hashRangesSize, type ClusterView } from '../topology/index.ts';
import type { PoolConfig } from '../config/index.ts';

export interface CleanupStatus {
  running: boolean;
  runs: number;
  keysScanned: number;
  keysDeleted: number;
  startedAt: number;
  finishedAt: number;
  lastError: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Whether some key hash this node held (`before`: its ranges in its rack's ring) is no longer in what it holds now: a range moved
 * away (a node joined and took it, or a replacement took it back), whether or not this node saw the move start.
 */
export function rangesLost(before: readonly number[], after: readonly number[]): boolean {
  return hashRangesSize(intersectHashRanges(before, after)) < hashRangesSize(before);
}

export class Cleanup {
  readonly status: CleanupStatus = { running: false, runs: 0, keysScanned: 0, keysDeleted: 0, startedAt: 0, finishedAt: 0, lastError: '' };
  private readonly pool: PoolConfig;
  private readonly view: () => ClusterView;
  private readonly hasher: KeyHasher;
  private readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
  private local: Redis | null = null;

  constructor(pool: PoolConfig, view: () => ClusterView, log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void) {
    this.pool = pool;
    this.view = view;
    this.hasher = new KeyHasher(pool.hash, pool.hashTag);
    this.log = log;
  }

  /** Why a cleanup cannot start now, or null. */
  refusal(): string | null {
    if (this.pool.dataStore !== 0) return 'cleanup scans redis datastores only (memcached keys expire or are evicted)';
    if (this.pool.servers.length !== 1) return 'cleanup needs one datastore server per cluster node';
    if (this.status.running) return `a cleanup is already running (${this.status.keysDeleted} keys deleted so far)`;
    const v = this.view();
    if (v.racks[v.localRack].shadow !== null) return 'tokens are still moving in this rack (a join or leave is under way or settling): try again after handoff_grace';
    return null;
  }

  /** Start a run (answers at once; the run goes on in the background). */
  start(reason: string): { status: number; message: string } {
    const why = this.refusal();
    if (why !== null) return { status: this.status.running || why.startsWith('tokens') ? 409 : 400, message: why };
    void this.run(reason);
    return { status: 200, message: 'cleanup started' };
  }

  private connection(): Redis {
    if (this.local === null) {
      const s = this.pool.servers[0];
      this.local = new Redis({
        host: s.host, port: s.port, password: this.pool.requirepass ?? undefined, maxRetriesPerRequest: 1, connectTimeout: 2000,
        tls: backendTlsForRedis(this.pool.backendTls, s.host),
        commandTimeout: 10_000, retryStrategy: (n) => Math.min(n * 100, 1000),
      });
      this.local.on('error', () => {});
    }
    return this.local;
  }

  private async run(reason: string): Promise<void> {
    const s = this.status;
    Object.assign(s, { running: true, runs: s.runs + 1, keysScanned: 0, keysDeleted: 0, startedAt: Date.now(), finishedAt: 0, lastError: '' });
    this.log('info', 'cleanup started: deleting the keys this node no longer owns', { reason });
    const r = this.connection();
    try {
      let cursor = '0';
      do {
        // A move that starts meanwhile stops the run: its keys may be needed here again.
        const v = this.view();
        const rack = v.racks[v.localRack];
        if (rack.shadow !== null) throw new Error('a token move started in this rack; cleanup stopped');
        const [next, keys] = await r.scanBuffer(cursor, 'COUNT', Math.max(1, this.pool.warmUpBatch));
        cursor = String(next);
        s.keysScanned += keys.length;
        const gone = keys.filter((k) => rack.ring.lookup(this.hasher.keyHash(k, 0, k.length)) !== v.localNode);
        if (gone.length > 0) s.keysDeleted += Number(await r.unlink(...gone));
        if (this.pool.warmUpPause > 0) await sleep(this.pool.warmUpPause);
      } while (cursor !== '0');
    } catch (err) {
      s.lastError = err instanceof Error ? err.message : String(err);
    }
    s.running = false;
    s.finishedAt = Date.now();
    this.log(s.lastError === '' ? 'info' : 'warn', s.lastError === '' ? 'cleanup done' : 'cleanup stopped', {
      scanned: s.keysScanned, deleted: s.keysDeleted, seconds: (s.finishedAt - s.startedAt) / 1000, error: s.lastError || undefined,
    });
  }

  /**
   * Delete this node's keys of `ranges` (inclusive key-hash pairs) now: a joining node clears what its datastore held of its future range
   * (from an earlier membership) before it announces the join, so no stale value survives the copy's never-replacing RESTORE.
   */
  async purge(ranges: readonly number[]): Promise<number> {
    if (ranges.length === 0 || this.pool.servers.length !== 1) return 0;
    if (this.pool.dataStore === 1) return this.purgeMemcache(ranges);
    const r = this.connection();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await r.scanBuffer(cursor, 'COUNT', 1000);
      cursor = String(next);
      const gone = keys.filter((k) => {
        const h = this.hasher.keyHash(k, 0, k.length);
        for (let i = 0; i < ranges.length; i += 2) if (h >= ranges[i] && h <= ranges[i + 1]) return true;
        return false;
      });
      if (gone.length > 0) deleted += Number(await r.unlink(...gone));
    } while (cursor !== '0');
    return deleted;
  }

  /**
   * purge on memcached: the keys `lru_crawler metadump all` lists in `ranges`, deleted with md, 1,000 a request; twice, each from a new
   * listing (a metadump is no snapshot: an item the LRU maintainer moves while the crawler walks may be left out).
   */
  private async purgeMemcache(ranges: readonly number[]): Promise<number> {
    const s = this.pool.servers[0];
    const c = new MemcacheLineClient(s.host, s.port);
    try {
      let deleted = 0;
      for (let pass = 0; pass < 2; pass++) {
        const dump = await c.request('lru_crawler metadump all\r\n', endsWithLine('END'));
        if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/.test(dump.toString('latin1', 0, 13))) throw new Error(`lru_crawler metadump: ${dump.toString('latin1').trim()}`);
        const keys = parseMetadump(dump).filter((k) => {
          const h = this.hasher.keyHash(k, 0, k.length);
          for (let i = 0; i < ranges.length; i += 2) if (h >= ranges[i] && h <= ranges[i + 1]) return true;
          return false;
        });
        for (let i = 0; i < keys.length; i += 1000) {
          const batch = keys.slice(i, i + 1000);
          const reply = await c.request(encodeMetaDeletes(batch), (b) => parseMetaSets(b, batch.length)?.end ?? -1);
          for (const r of parseMetaSets(reply, batch.length)!.results) if (r === 1) deleted++;
        }
      }
      return deleted;
    } finally {
      c.close();
    }
  }

  stop(): void {
    this.local?.disconnect();
  }
}
