// The peer port's DYNOPROXY.RANGE (protocol/resp/range-copy.ts): one SCAN step over this node's datastore, the keys whose hash lies
// in the asked ranges with their PTTL and DUMP payload. Off the request path: its own datastore connection per pool and worker, opened
// on first use. Never writes to the datastore, never answers more than max-bytes, never serves a node with several datastore servers.
import { Redis } from 'ioredis';
import { PTTL_DUMP_LUA, parseRangeRequest, encodeRangeReply, rangeError, inHashRanges, entryBytes, type RangeEntry } from '../../protocol/resp/index.ts';
import { acquireRequest, deliverReply, afterIo, K_CLIENT, monotonicMs, backendTlsForRedis } from '../../io/index.ts';
import { P } from '../../stats/index.ts';
import type { PoolContext } from '../pool-context.ts';

/** What the range server needs of the peer connection it answers on. */
export interface RangePeer {
  readonly pool: PoolContext;
  enqueue(req: ReturnType<typeof acquireRequest>): void;
  answer(msgId: number, reply: Uint8Array): void;
}


type RangeRedis = Redis & { pttlDumpBuffer(n: number, ...keys: Buffer[]): Promise<unknown[]> };

/** The side connection of a pool's peer servers (range copies, purges, repairs): one per pool and worker, opened on first use. */
const conns = new Map<PoolContext, Redis>();
/** The scripts each side connection has defined (EVALSHA, loaded on first use: ioredis falls back to EVAL on NOSCRIPT). */
const defined = new WeakMap<Redis, Set<string>>();

/** A pool's side connection to its one datastore, with `scripts` (name -> Lua) defined on it: shared by peer-range and peer-repair. */
export function peerDatastore<T extends Redis>(pool: PoolContext, scripts: Readonly<Record<string, string>>): T {
  let r = conns.get(pool);
  if (r === undefined) {
    const s = pool.config.servers[0];
    r = new Redis({
      host: s.host, port: s.port, password: pool.config.requirepass ?? undefined, lazyConnect: false, enableOfflineQueue: true, tls: backendTlsForRedis(pool.config.backendTls, s.host),
      maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 10_000, retryStrategy: (n) => Math.min(n * 100, 1000),
    });
    // Errors reach the request that hit them; the connection's own events are not worth a log line per retry.
    r.on('error', () => {});
    conns.set(pool, r);
    defined.set(r, new Set());
  }
  const have = defined.get(r) as Set<string>;
  for (const [name, lua] of Object.entries(scripts)) {
    if (have.has(name)) continue;
    r.defineCommand(name, { lua });
    have.add(name);
  }
  return r as T;
}

// PTTL and DUMP of a step's keys in one script call: one command per step instead of two per key (the source's CPU is the serving rack's).
const RANGE_SCRIPTS = { pttlDump: PTTL_DUMP_LUA };

function datastore(pool: PoolContext): RangeRedis {
  return peerDatastore<RangeRedis>(pool, RANGE_SCRIPTS);
}

/** Close the peer servers' side connections (worker shutdown). */
export function closeRangeConnections(): void {
  for (const r of conns.values()) r.disconnect();
  conns.clear();
}

/** Serve one DYNOPROXY.RANGE (argv after the name in `args`) answering message `msgId`, in its place in the reply order. */
export function serveRange(peer: RangePeer, args: readonly string[], msgId: number, purge = false): void {
  const pool = peer.pool;
  const cl = pool.cluster;
  const parsed = parseRangeRequest(args);
  if (typeof parsed === 'string' || cl === null || pool.config.servers.length !== 1 || pool.config.dataStore !== 0) {
    pool.st[P.peer_requests_refused_total]++;
    const why = typeof parsed === 'string' ? parsed : 'this node cannot serve range copies (one redis datastore server per cluster node only)';
    return peer.answer(msgId, rangeError(why));
  }
  const req = acquireRequest(K_CLIENT);
  req.msgId = msgId;
  req.startedAt = monotonicMs();
  peer.enqueue(req);
  // This server's reference, standing in for a backend's until the reply is made (deliverReply drops it).
  req.refs++;
  const finish = (reply: Buffer): void => {
    deliverReply(req, reply, 0, reply.length, reply[0] === 0x2d);
    afterIo();
  };
  const step = purge ? purgeStep : scanStep;
  step(datastore(pool), (b) => cl.keyHash(b, 0, b.length), parsed.cursor, parsed.count, parsed.maxBytes, parsed.ranges).then(finish, (err: unknown) =>
    finish(rangeError(`datastore: ${err instanceof Error ? err.message : String(err)}`)),
  );
}

/** DYNOPROXY.PURGE: one SCAN step, the keys in the ranges UNLINKed. */
async function purgeStep(r: RangeRedis, hash: (key: Buffer) => number, cursor: string, count: number, _maxBytes: number, ranges: readonly number[]): Promise<Buffer> {
  const [next, keys] = await r.scanBuffer(cursor, 'COUNT', Math.max(1, count));
  const gone = keys.filter((k) => inHashRanges(ranges, hash(k)));
  if (gone.length > 0) await r.unlink(...gone);
  return encodeRangeReply(String(next), await r.dbsize(), keys.length, []);
}

async function scanStep(
  r: RangeRedis, hash: (key: Buffer) => number, cursor: string, count: number, maxBytes: number, ranges: readonly number[],
): Promise<Buffer> {
  if (count === 0) return encodeRangeReply(cursor, await r.dbsize(), 0, []);
  // One round trip for both (the step's latency is the copy's pace).
  const [[e1, size], [e2, scanned]] = ((await r.pipeline().dbsize().scanBuffer(cursor, 'COUNT', count).exec()) ?? []) as [Error | null, unknown][];
  if (e1 !== null || e2 !== null) throw e1 ?? e2;
  const dbsize = Number(size);
  const [next, keys] = scanned as [Buffer, Buffer[]];
  const wanted = keys.filter((k) => inHashRanges(ranges, hash(k)));
  const entries: RangeEntry[] = [];
  if (wanted.length > 0) {
    const res = await r.pttlDumpBuffer(wanted.length, ...wanted);
    let bytes = 0;
    for (let i = 0; i < wanted.length; i++) {
      const pttl = res[2 * i];
      const dump = res[2 * i + 1];
      // Gone (expired or deleted) between SCAN and DUMP: nothing to copy.
      if (typeof pttl !== 'number' || pttl === -2 || !Buffer.isBuffer(dump) || dump.length === 0) continue;
      bytes += entryBytes(wanted[i], dump);
      if (bytes > maxBytes) throw new Error(`the keys of this step exceed max-bytes ${maxBytes}; ask with a smaller count`);
      entries.push({ key: wanted[i], pttl, dump });
    }
  }
  return encodeRangeReply(String(next), dbsize, keys.length, entries);
}
