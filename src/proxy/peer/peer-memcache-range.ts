// The peer port's dynoproxy_range on a memcached node (warm-up's copy; codec in protocol/resp/range-copy.ts): the first step lists the
// datastore's keys with `lru_crawler metadump all` and keeps those in the asked ranges; each step then reads `count` of them with mg
// (value, flags, TTL). Off the request path: its own datastore connection per pool and worker. Never writes to the datastore, except
// dynoproxy_purge (a leave clearing its successors' stale copies of its range first): the same listing, each step's keys deleted with md.
import {
  parseRangeRequest, encodeRangeReply, rangeError, inHashRanges, entryBytes, memcacheRangeArgs, wrapMemcacheRangeReply, type RangeEntry,
} from '../../protocol/resp/index.ts';
import { encodeMetaGets, parseMetaGets, parseMetadump, encodeMetaDeletes, parseMetaSets } from '../../protocol/memcache/index.ts';
import { acquireRequest, deliverReply, afterIo, K_CLIENT, monotonicMs, MemcacheLineClient, endsWithLine } from '../../io/index.ts';
import { P } from '../../stats/index.ts';
import type { PoolContext } from '../pool-context.ts';
import type { RangePeer } from './peer-range.ts';

/** A listing not asked about for this long is dropped (its copy gave up or moved to another source). */
const LISTING_IDLE_MS = 60_000;

interface Listing {
  keys: Buffer[];
  /** Keys the metadump listed in all (the datastore's key count when listed). */
  all: number;
  lastAsked: number;
}

const conns = new Map<PoolContext, MemcacheLineClient>();
const listings = new Map<number, Listing>();
let nextListing = 1;

function datastore(pool: PoolContext): MemcacheLineClient {
  let c = conns.get(pool);
  if (c === undefined) {
    const s = pool.config.servers[0];
    c = new MemcacheLineClient(s.host, s.port);
    conns.set(pool, c);
  }
  return c;
}

/** Close the range servers' memcached connections (worker shutdown). */
export function closeMemcacheRangeConnections(): void {
  for (const c of conns.values()) c.close();
  conns.clear();
  listings.clear();
}

/** Serve one dynoproxy_range (or, `purge`, dynoproxy_purge) line buf[ps, pe) answering message `msgId`, in its place in the reply order. */
export function serveMemcacheRange(peer: RangePeer, buf: Uint8Array, ps: number, pe: number, msgId: number, purge = false): void {
  const pool = peer.pool;
  const cl = pool.cluster;
  const parsed = parseRangeRequest(memcacheRangeArgs(buf, ps, pe));
  if (typeof parsed === 'string' || cl === null || pool.config.servers.length !== 1) {
    pool.st[P.peer_requests_refused_total]++;
    const why = typeof parsed === 'string' ? parsed : 'this node cannot serve range copies (one memcached server per cluster node only)';
    return peer.answer(msgId, wrapMemcacheRangeReply(rangeError(why)));
  }
  const req = acquireRequest(K_CLIENT);
  req.msgId = msgId;
  req.startedAt = monotonicMs();
  peer.enqueue(req);
  req.refs++;
  const finish = (reply: Buffer): void => {
    const wrapped = wrapMemcacheRangeReply(reply);
    deliverReply(req, wrapped, 0, wrapped.length, wrapped[0] === 0x53);
    afterIo();
  };
  step(datastore(pool), (k) => cl.keyHash(k, 0, k.length), parsed.cursor, parsed.count, parsed.maxBytes, parsed.ranges, purge).then(finish, (err: unknown) =>
    finish(rangeError(`datastore: ${err instanceof Error ? err.message : String(err)}`)),
  );
}

async function step(
  c: MemcacheLineClient, hash: (k: Buffer) => number, cursor: string, count: number, maxBytes: number, ranges: readonly number[], purge: boolean,
): Promise<Buffer> {
  const now = Date.now();
  for (const [id, l] of listings) if (now - l.lastAsked > LISTING_IDLE_MS) listings.delete(id);
  if (count === 0) {
    const items = Number((await c.stats()).get('curr_items') ?? 0);
    return encodeRangeReply(cursor, items, 0, []);
  }
  let id: number;
  let from: number;
  if (cursor === '0') {
    const dump = await c.request('lru_crawler metadump all\r\n', endsWithLine('END'));
    if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/.test(dump.toString('latin1', 0, 13))) throw new Error(`lru_crawler metadump: ${dump.toString('latin1').trim()}`);
    const all = parseMetadump(dump);
    id = nextListing++;
    listings.set(id, { keys: all.filter((k) => inHashRanges(ranges, hash(k))), all: all.length, lastAsked: now });
    from = 0;
  } else {
    const m = /^(\d+)-(\d+)$/.exec(cursor);
    id = m === null ? -1 : Number(m[1]);
    from = m === null ? 0 : Number(m[2]);
  }
  const l = listings.get(id);
  if (l === undefined) throw new Error(`unknown cursor ${cursor} (its listing expired): start again from 0`);
  l.lastAsked = now;
  const keys = l.keys.slice(from, from + count);
  const entries: RangeEntry[] = [];
  if (purge && keys.length > 0) {
    const reply = await c.request(encodeMetaDeletes(keys), (b) => parseMetaSets(b, keys.length)?.end ?? -1);
    const bad = parseMetaSets(reply, keys.length)!.results.find((r) => r !== 1 && r !== 'NF');
    if (bad !== undefined) throw new Error(`md: ${String(bad)}`);
  } else if (keys.length > 0) {
    const reply = await c.request(encodeMetaGets(keys), (b) => parseMetaGets(b, keys.length, keys)?.end ?? -1);
    const got = parseMetaGets(reply, keys.length, keys)!;
    let bytes = 0;
    for (const it of got.items) {
      // A miss (expired or deleted since the listing) or an error line: nothing to copy.
      if (it === null || typeof it === 'string' || it.ttl === 0) continue;
      const dump = Buffer.allocUnsafe(4 + it.value.length);
      dump.writeUInt32BE(it.flags >>> 0, 0);
      it.value.copy(dump, 4);
      bytes += entryBytes(it.key, dump);
      if (bytes > maxBytes) throw new Error(`the keys of this step exceed max-bytes ${maxBytes}; ask with a smaller count`);
      entries.push({ key: it.key, pttl: it.ttl < 0 ? -1 : it.ttl * 1000, dump });
    }
  }
  const next = from + count >= l.keys.length ? '0' : `${id}-${from + count}`;
  if (next === '0') listings.delete(id);
  // Progress is counted in the datastore's keys, as a SCAN step's would be: this step's share of the listing.
  const scanned = Math.round((keys.length * l.all) / Math.max(1, l.keys.length));
  return encodeRangeReply(next, l.all, scanned, entries);
}
