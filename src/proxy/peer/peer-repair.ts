// The peer port's DYNOPROXY.REPAIR (protocol/resp/repair-codec.ts): digest jobs (a throttled background SCAN of this node's datastore
// summing per-bucket digests of the keys in the asked ranges), the keys of chosen buckets, FETCH (PTTL + DUMP) and a compare-and-set PUT.
// Off the request path: its own datastore connection per pool and worker. Never writes a key whose value changed since the asker read it.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  PTTL_DUMP_LUA, parseRepairRequest, repairError, inHashRanges, encodeDigestReply, encodeKeysReply, encodeFetchReply, encodePutReply, bucketOf, ttlBucket, VALUE_DIGEST_CHARS, FOLD, encodeRowsReply,
  type KeyEntry, type FetchEntry,
} from '../../protocol/resp/index.ts';
import { acquireRequest, deliverReply, afterIo, K_CLIENT, monotonicMs } from '../../io/index.ts';
import { P } from '../../stats/index.ts';
import type { PoolContext } from '../pool-context.ts';
import { peerDatastore, type RangePeer } from './peer-range.ts';

/** PTTL and the SHA-1 of the DUMP payload of every key (a digest, not the value, leaves the datastore). */
const PTTL_SHA = "local out = {} for i, k in ipairs(KEYS) do local d = redis.call('DUMP', k) out[2 * i - 1] = redis.call('PTTL', k) " +
  "out[2 * i] = d and redis.sha1hex(d) or '' end return out";
/** PTTL and DUMP of every key (FETCH). */
/**
 * Compare-and-set of each key (ARGV per key: expected SHA-1 of its DUMP or '-', pttl, payload): written only when the key still holds
 * what the asker saw; an empty payload deletes it. 1 written, 0 changed meanwhile, else the error text.
 */
const CAS_PUT = "local out = {} for i, k in ipairs(KEYS) do local d = redis.call('DUMP', k) local cur = d and redis.sha1hex(d) or '-' " +
  "if cur ~= ARGV[3 * i - 2] then out[i] = 0 else local p = ARGV[3 * i] local r " +
  "if p == '' then r = redis.pcall('DEL', k) else r = redis.pcall('RESTORE', k, ARGV[3 * i - 1], p, 'REPLACE') end " +
  "if type(r) == 'table' and r.err then out[i] = r.err else out[i] = 1 end end end return out";

type RepairRedis = Redis & {
  pttlShaBuffer(n: number, ...keys: Buffer[]): Promise<unknown[]>;
  pttlDumpBuffer(n: number, ...keys: Buffer[]): Promise<unknown[]>;
  casPut(n: number, ...args: (Buffer | string)[]): Promise<unknown[]>;
};

/** A job not asked about for this long is dropped (its asker gave up or restarted). */
const JOB_IDLE_MS = 60_000;
/** Jobs one worker runs at once, and keys one job may hold (the asker cuts a node's range into jobs below this). */
const MAX_JOBS = 8;
const MAX_JOB_KEYS = 1_000_000;

interface Entry {
  bucket: number;
  digest: string;
  expireAt: number;
}

class DigestJob {
  readonly buckets: number;
  readonly layout: number[];
  readonly ranges: number[];
  private readonly total: number;
  readonly counts: Uint32Array;
  private readonly sums: BigUint64Array;
  readonly entries = new Map<string, Entry>();
  scanned = 0;
  done = false;
  error = '';
  lastAsked = Date.now();
  private order: string[] = [];
  private first = new Uint32Array(0);

  constructor(buckets: number, layout: number[], ranges: number[]) {
    this.buckets = buckets;
    this.layout = layout;
    this.ranges = ranges;
    let t = 0;
    for (let i = 0; i < layout.length; i += 2) t += layout[i + 1] - layout[i] + 1;
    this.total = t;
    this.counts = new Uint32Array(buckets);
    this.sums = new BigUint64Array(buckets);
  }

  sameAs(buckets: number, layout: readonly number[], ranges: readonly number[]): boolean {
    const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((r, i) => r === b[i]);
    return buckets === this.buckets && same(layout, this.layout) && same(ranges, this.ranges);
  }

  /** SCAN steps of warm_up_batch keys, each followed by a pause at least as long as the step took (the serving datastore keeps half). */
  async run(r: RepairRedis, pool: PoolContext, hash: (k: Buffer) => number): Promise<void> {
    let cursor = '0';
    do {
      const t0 = Date.now();
      const [next, keys] = (await r.scanBuffer(cursor, 'COUNT', pool.config.warmUpBatch)) as [Buffer, Buffer[]];
      cursor = next.toString('latin1');
      this.scanned += keys.length;
      const wanted: { key: Buffer; bucket: number }[] = [];
      for (const k of keys) {
        const h = hash(k);
        const b = inHashRanges(this.ranges, h) ? bucketOf(this.layout, this.total, this.buckets, h) : -1;
        if (b >= 0) wanted.push({ key: k, bucket: b });
      }
      if (wanted.length > 0) {
        const res = await r.pttlShaBuffer(wanted.length, ...wanted.map((w) => w.key));
        const now = Date.now();
        for (let i = 0; i < wanted.length; i++) {
          const pttl = res[2 * i];
          const sha = res[2 * i + 1];
          if (typeof pttl !== 'number' || pttl === -2 || !Buffer.isBuffer(sha) || sha.length === 0) continue;
          const id = wanted[i].key.toString('latin1');
          // SCAN may return a key twice (the table rehashed): it counts once.
          if (this.entries.has(id)) continue;
          if (this.entries.size >= MAX_JOB_KEYS) throw new Error(`over ${MAX_JOB_KEYS} keys in one job: repair smaller ranges`);
          const e = { bucket: wanted[i].bucket, digest: sha.toString('latin1', 0, VALUE_DIGEST_CHARS), expireAt: pttl >= 0 ? now + pttl : -1 };
          this.entries.set(id, e);
          this.counts[e.bucket]++;
          this.sums[e.bucket] += entryDigest(wanted[i].key, e.digest, ttlBucket(e.expireAt));
        }
      }
      const pause = Math.max(pool.config.warmUpPause, Date.now() - t0);
      if (cursor !== '0' && pause > 0) await new Promise((res) => setTimeout(res, pause).unref());
    } while (cursor !== '0');
    this.index();
    this.done = true;
  }

  /** Entries ordered by bucket, so KEYS reads a bucket's keys without walking them all. */
  private index(): void {
    this.order = [...this.entries.keys()].sort((a, b) => this.entries.get(a)!.bucket - this.entries.get(b)!.bucket);
    this.first = new Uint32Array(this.buckets + 1);
    for (let i = 0; i < this.buckets; i++) this.first[i + 1] = this.first[i] + this.counts[i];
  }

  /** The coarse table: FOLD buckets summed into one (what racks that agree exchange). */
  coarse(): Buffer {
    const n = Math.ceil(this.buckets / FOLD);
    const t = Buffer.alloc(n * 12);
    for (let c = 0; c < n; c++) {
      let count = 0;
      let sum = 0n;
      for (let i = c * FOLD; i < Math.min(this.buckets, (c + 1) * FOLD); i++) {
        count += this.counts[i];
        sum += this.sums[i];
      }
      t.writeUInt32LE(count >>> 0, c * 12);
      t.writeBigUInt64LE(BigInt.asUintN(64, sum), c * 12 + 4);
    }
    return t;
  }

  /** The buckets of the given coarse buckets, in order. */
  rows(coarse: readonly number[]): Buffer {
    const parts: Buffer[] = [];
    for (const c of coarse) {
      const to = Math.min(this.buckets, (c + 1) * FOLD);
      const t = Buffer.alloc(Math.max(0, to - c * FOLD) * 12);
      for (let i = c * FOLD; i < to; i++) {
        t.writeUInt32LE(this.counts[i], (i - c * FOLD) * 12);
        t.writeBigUInt64LE(this.sums[i], (i - c * FOLD) * 12 + 4);
      }
      parts.push(t);
    }
    return Buffer.concat(parts);
  }

  keysOf(buckets: readonly number[]): KeyEntry[] {
    const out: KeyEntry[] = [];
    for (const b of buckets) {
      for (let i = this.first[b]; i < this.first[b + 1]; i++) {
        const id = this.order[i];
        const e = this.entries.get(id)!;
        out.push({ key: Buffer.from(id, 'latin1'), digest: e.digest, expireAt: e.expireAt });
      }
    }
    return out;
  }
}

/** One key's share of its bucket's digest: key, value digest and expiry bucket together, 64 bits. */
function entryDigest(key: Buffer, digest: string, ttl: number): bigint {
  return createHash('sha1').update(key).update('\0').update(digest).update(`\0${ttl}`).digest().readBigUInt64LE(0);
}

const jobs = new Map<string, DigestJob>();
const REPAIR_SCRIPTS = { pttlSha: PTTL_SHA, pttlDump: PTTL_DUMP_LUA, casPut: CAS_PUT };

/** The pool's peer-side datastore connection (shared with range copies, peer-range.ts), with the repair's scripts. */
function datastore(pool: PoolContext): RepairRedis {
  return peerDatastore<RepairRedis>(pool, REPAIR_SCRIPTS);
}

/** Drop the repair servers' jobs (worker shutdown; closeRangeConnections closes the shared connection). */
export function closeRepairConnections(): void {
  jobs.clear();
}

function dropIdleJobs(now: number): void {
  for (const [id, j] of jobs) if (now - j.lastAsked > JOB_IDLE_MS) jobs.delete(id);
}

/** Serve one DYNOPROXY.REPAIR (argv after the name in `args`, latin1) answering message `msgId`, in its place in the reply order. */
export function serveRepair(peer: RangePeer, args: readonly string[], msgId: number): void {
  const pool = peer.pool;
  const cl = pool.cluster;
  const parsed = parseRepairRequest(args);
  if (typeof parsed === 'string' || cl === null || pool.config.servers.length !== 1 || pool.config.dataStore !== 0) {
    pool.st[P.peer_requests_refused_total]++;
    const why = typeof parsed === 'string' ? parsed : 'this node cannot serve repairs (one redis datastore server per cluster node only)';
    return peer.answer(msgId, repairError(why));
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
  const r = datastore(pool);
  const now = Date.now();
  dropIdleJobs(now);
  let answer: Promise<Buffer>;
  switch (parsed.op) {
    case 'digest': {
      let job = jobs.get(parsed.job);
      if (job !== undefined && !job.sameAs(parsed.buckets, parsed.layout, parsed.ranges)) {
        answer = Promise.resolve(repairError(`job ${parsed.job} exists with other ranges or buckets`));
        break;
      }
      if (job === undefined) {
        if (jobs.size >= MAX_JOBS) {
          answer = Promise.resolve(repairError(`busy: ${MAX_JOBS} digest jobs running here`));
          break;
        }
        const j = new DigestJob(parsed.buckets, parsed.layout, parsed.ranges);
        job = j;
        jobs.set(parsed.job, j);
        j.run(r, pool, (k) => cl.keyHash(k, 0, k.length)).catch((err: unknown) => {
          j.error = err instanceof Error ? err.message : String(err);
        });
      }
      job.lastAsked = now;
      if (job.error !== '') {
        jobs.delete(parsed.job);
        answer = Promise.resolve(repairError(`datastore: ${job.error}`));
      } else answer = Promise.resolve(encodeDigestReply({ done: job.done, keys: job.done ? job.entries.size : job.scanned, table: job.done ? job.coarse() : null }));
      break;
    }
    case 'keys': {
      const job = jobs.get(parsed.job);
      if (job === undefined || !job.done) answer = Promise.resolve(repairError(`no finished job ${parsed.job} here`));
      else if (parsed.buckets.some((b) => b >= job.buckets)) answer = Promise.resolve(repairError(`bucket past ${job.buckets - 1}`));
      else {
        job.lastAsked = now;
        answer = Promise.resolve(encodeKeysReply(job.keysOf(parsed.buckets)));
      }
      break;
    }
    case 'rows': {
      const job = jobs.get(parsed.job);
      if (job === undefined || !job.done) answer = Promise.resolve(repairError(`no finished job ${parsed.job} here`));
      else if (parsed.buckets.some((c) => c * FOLD >= job.buckets)) answer = Promise.resolve(repairError(`coarse bucket past ${Math.ceil(job.buckets / FOLD) - 1}`));
      else {
        job.lastAsked = now;
        answer = Promise.resolve(encodeRowsReply(job.rows(parsed.buckets)));
      }
      break;
    }
    case 'fetch':
      answer = fetch(r, parsed.keys, parsed.maxBytes);
      break;
    case 'put': {
      const args: (Buffer | string)[] = parsed.puts.map((p) => p.key);
      for (const p of parsed.puts) args.push(p.expected, String(p.pttl), p.payload);
      answer = r.casPut(parsed.puts.length, ...args).then((res) => encodePutReply(res.map((x) => (typeof x === 'number' ? x : String(x)))));
      break;
    }
  }
  answer.then(finish, (err: unknown) => finish(repairError(`datastore: ${err instanceof Error ? err.message : String(err)}`)));
}

async function fetch(r: RepairRedis, keys: Buffer[], maxBytes: number): Promise<Buffer> {
  const res = await r.pttlDumpBuffer(keys.length, ...keys);
  const out: FetchEntry[] = [];
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) {
    const pttl = res[2 * i];
    const dump = res[2 * i + 1];
    if (typeof pttl !== 'number' || pttl === -2 || !Buffer.isBuffer(dump) || dump.length === 0) out.push({ pttl: -2, payload: Buffer.alloc(0) });
    else if (bytes + dump.length > maxBytes) out.push({ pttl: -3, payload: Buffer.alloc(0) });
    else {
      bytes += dump.length;
      out.push({ pttl, payload: dump });
    }
  }
  return encodeFetchReply(out);
}
