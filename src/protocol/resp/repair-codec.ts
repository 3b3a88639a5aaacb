// DYNOPROXY.REPAIR, dynoproxy's private peer-port command for anti-entropy (cluster/repair.ts asks, proxy/peer/peer-repair.ts serves):
// request and reply codecs and the bucket arithmetic. Pure: no I/O, no state; a malformed request or reply is a message, never a throw.
//
// Requests (RESP arrays of bulk strings), only on an authenticated peer link:
//   DYNOPROXY.REPAIR DIGEST <job> <buckets> <n> <from> <to> (n pairs: the layout) <from> <to> [...] (the filter)
//     Starts job <job> on the serving node (a throttled SCAN of its datastore in the background), or asks how it goes. The layout's
//     ranges laid end to end are cut into <buckets> equal buckets; only keys whose hash lies in the filter's ranges count (a rack
//     whose range the asker's crosses several nodes is asked node by node, and its nodes' tables add up: the layout is shared).
//     Reply while it scans: [0, <keys scanned>]; when done: [1, <keys in the ranges>, <coarse table>], a table being 12 bytes a bucket
//     (u32 count, u64 digest, LE) and a coarse bucket FOLD buckets summed. A bucket's digest is the sum mod 2^64 of its keys' entry
//     digests (key, value digest, expiry bucket): order-free, so equal sets give equal digests whatever order SCAN met them in, and
//     tables add up (a coarse bucket's, or a rack's over its nodes).
//   DYNOPROXY.REPAIR ROWS <job> <coarse> [<coarse> ...]     -> one bulk: the buckets of those coarse buckets, in order (a finished job)
//   DYNOPROXY.REPAIR KEYS <job> <bucket> [<bucket> ...]      -> [<key>, <value digest>, <expire-at ms | -1>] per key of those buckets
//   DYNOPROXY.REPAIR FETCH <max-bytes> <key> [<key> ...]     -> [<pttl | -2 absent | -3 too large>, <DUMP payload or "">] per key
//   DYNOPROXY.REPAIR PUT <key> <expected> <pttl> <payload> [...] -> [1 written | 0 the key changed | error text] per key
//     <expected>: the SHA-1 (hex) of the key's current DUMP payload, "-" for absent; an empty <payload> deletes the key.
// Errors: -ERR dynoproxy repair: <why>.

export const REPAIR_COMMAND = 'DYNOPROXY.REPAIR';
const NAME = Buffer.from(REPAIR_COMMAND.toLowerCase());
const MAX_U32 = 0xffffffff;
/** Most buckets one digest job may have (its reply is 12 bytes each). */
export const MAX_BUCKETS = 65_536;
/** Most ranges one job may name. */
export const MAX_REPAIR_RANGES = 1024;
/** Buckets a coarse bucket sums: racks that agree exchange only the coarse table, 1/FOLD of the buckets' bytes. */
export const FOLD = 64;
/** Most keys one FETCH or PUT may carry, and buckets one KEYS (or ROWS) may ask. */
export const MAX_REPAIR_BATCH = 4096;
/** Expiry times are compared in buckets this wide in digests (replicas set a TTL a few ms apart); keys compare them within TTL_TOLERANCE_MS. */
export const TTL_BUCKET_MS = 60_000;
export const TTL_TOLERANCE_MS = 2_000;
/** The DUMP payload's SHA-1 (hex) is a value's digest; digests cross the wire as its first 16 hex digits. */
export const VALUE_DIGEST_CHARS = 16;

export type RepairRequest =
  | { op: 'digest'; job: string; buckets: number; layout: number[]; ranges: number[] }
  | { op: 'keys'; job: string; buckets: number[] }
  | { op: 'rows'; job: string; buckets: number[] }
  | { op: 'fetch'; maxBytes: number; keys: Buffer[] }
  | { op: 'put'; puts: { key: Buffer; expected: string; pttl: number; payload: Buffer }[] };

export interface DigestReply {
  done: boolean;
  /** Keys scanned so far (running) or keys in the ranges (done). */
  keys: number;
  /** Done: 12 bytes per bucket. */
  table: Buffer | null;
}

export interface KeyEntry {
  key: Buffer;
  digest: string;
  expireAt: number;
}

export interface FetchEntry {
  pttl: number;
  payload: Buffer;
}

/** Whether argv[0] (bytes buf[off, off+len)) names DYNOPROXY.REPAIR, in any case. */
export function isRepairCommand(buf: Uint8Array, off: number, len: number): boolean {
  if (len !== NAME.length) return false;
  for (let i = 0; i < len; i++) if ((buf[off + i] | 0x20) !== (NAME[i] | 0x20)) return false;
  return true;
}

function command(args: (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const v = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export function encodeRepairRequest(r: RepairRequest): Buffer {
  const head = [REPAIR_COMMAND, r.op.toUpperCase()];
  switch (r.op) {
    case 'digest':
      return command([...head, r.job, String(r.buckets), String(r.layout.length / 2), ...r.layout.map(String), ...r.ranges.map(String)]);
    case 'keys':
    case 'rows':
      return command([...head, r.job, ...r.buckets.map(String)]);
    case 'fetch':
      return command([...head, String(r.maxBytes), ...r.keys]);
    case 'put':
      return command([...head, ...r.puts.flatMap((p) => [p.key, p.expected, String(p.pttl), p.payload])]);
  }
}

function uint(text: string, max: number): number {
  if (!/^\d{1,10}$/.test(text)) return -1;
  const n = Number(text);
  return n > max ? -1 : n;
}

const JOB = /^[A-Za-z0-9._-]{1,64}$/;

/** The arguments after the command name (latin1 strings: binary keys survive): the request, or why it is refused. */
export function parseRepairRequest(args: readonly string[]): RepairRequest | string {
  const op = (args[0] ?? '').toLowerCase();
  const rest = args.slice(1);
  switch (op) {
    case 'digest': {
      const pairs = uint(rest[2] ?? '', MAX_REPAIR_RANGES);
      if (rest.length < 7 || pairs < 1 || (rest.length - 3) % 2 !== 0 || (rest.length - 3) / 2 <= pairs) {
        return 'DIGEST job buckets n from to (n layout pairs) from to [from to ...] (filter pairs)';
      }
      const [job, b] = rest;
      if (!JOB.test(job)) return `invalid job name '${job.slice(0, 40)}'`;
      const buckets = uint(b, MAX_BUCKETS);
      if (buckets < 1) return `invalid bucket count '${b.slice(0, 20)}' (1 to ${MAX_BUCKETS})`;
      if ((rest.length - 3) / 2 - pairs > MAX_REPAIR_RANGES) return `too many ranges (at most ${MAX_REPAIR_RANGES})`;
      const all: number[] = [];
      for (let i = 3; i < rest.length; i += 2) {
        const from = uint(rest[i], MAX_U32);
        const to = uint(rest[i + 1], MAX_U32);
        if (from < 0 || to < 0 || from > to) return `invalid hash range '${rest[i].slice(0, 20)} ${rest[i + 1].slice(0, 20)}' (0 <= from <= to <= ${MAX_U32})`;
        all.push(from, to);
      }
      return { op, job, buckets, layout: all.slice(0, pairs * 2), ranges: all.slice(pairs * 2) };
    }
    case 'rows':
    case 'keys': {
      if (rest.length < 2 || rest.length - 1 > MAX_REPAIR_BATCH) return `${op.toUpperCase()} job bucket [bucket ...] (at most ${MAX_REPAIR_BATCH} buckets)`;
      if (!JOB.test(rest[0])) return `invalid job name '${rest[0].slice(0, 40)}'`;
      const buckets = rest.slice(1).map((x) => uint(x, MAX_BUCKETS - 1));
      if (buckets.some((x) => x < 0)) return 'invalid bucket number';
      return { op, job: rest[0], buckets };
    }
    case 'fetch': {
      if (rest.length < 2 || rest.length - 1 > MAX_REPAIR_BATCH) return `FETCH max-bytes key [key ...] (at most ${MAX_REPAIR_BATCH} keys)`;
      const maxBytes = uint(rest[0], 0x7fffffff);
      if (maxBytes < 1) return `invalid max-bytes '${rest[0].slice(0, 20)}'`;
      return { op, maxBytes, keys: rest.slice(1).map((k) => Buffer.from(k, 'latin1')) };
    }
    case 'put': {
      if (rest.length < 4 || rest.length % 4 !== 0 || rest.length / 4 > MAX_REPAIR_BATCH) return `PUT key expected pttl payload [...] (at most ${MAX_REPAIR_BATCH} keys)`;
      const puts: { key: Buffer; expected: string; pttl: number; payload: Buffer }[] = [];
      for (let i = 0; i < rest.length; i += 4) {
        const expected = rest[i + 1];
        if (expected !== '-' && !/^[0-9a-f]{40}$/.test(expected)) return `invalid expected digest '${expected.slice(0, 48)}'`;
        if (!/^\d{1,15}$/.test(rest[i + 2])) return `invalid pttl '${rest[i + 2].slice(0, 20)}'`;
        puts.push({ key: Buffer.from(rest[i], 'latin1'), expected, pttl: Number(rest[i + 2]), payload: Buffer.from(rest[i + 3], 'latin1') });
      }
      return { op, puts };
    }
    default:
      return `unknown subcommand '${op.slice(0, 20)}' (DIGEST, ROWS, KEYS, FETCH, PUT)`;
  }
}

/** Number of hashes the ranges cover before `hash` (which must lie in one of them), or -1 when it lies in none. */
export function rangeOffset(ranges: readonly number[], hash: number): number {
  let before = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    if (hash >= ranges[i] && hash <= ranges[i + 1]) return before + (hash - ranges[i]);
    before += ranges[i + 1] - ranges[i] + 1;
  }
  return -1;
}

/** The bucket of a key hash: the ranges laid end to end and cut into `buckets` equal parts; -1 outside them. */
export function bucketOf(ranges: readonly number[], total: number, buckets: number, hash: number): number {
  const off = rangeOffset(ranges, hash);
  return off < 0 ? -1 : Math.min(buckets - 1, Math.floor((off * buckets) / total));
}

/** The expiry bucket a key's digest carries: -1 for none. */
export function ttlBucket(expireAt: number): number {
  return expireAt < 0 ? -1 : Math.floor(expireAt / TTL_BUCKET_MS);
}

/** Whether two expiry times (ms, -1 none) are the same TTL as replicas set it. */
export function sameExpiry(a: number, b: number): boolean {
  if (a < 0 || b < 0) return a < 0 && b < 0;
  return Math.abs(a - b) <= TTL_TOLERANCE_MS;
}

function bulk(b: Buffer | string): Buffer[] {
  const v = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  return [Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')];
}

export function encodeDigestReply(r: DigestReply): Buffer {
  if (!r.done || r.table === null) return Buffer.from(`*2\r\n:0\r\n:${r.keys}\r\n`);
  return Buffer.concat([Buffer.from(`*3\r\n:1\r\n:${r.keys}\r\n`), ...bulk(r.table)]);
}

export function encodeRowsReply(rows: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`*1\r\n`), ...bulk(rows)]);
}

export function encodeKeysReply(entries: readonly KeyEntry[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${entries.length * 3}\r\n`)];
  for (const e of entries) parts.push(...bulk(e.key), ...bulk(e.digest), Buffer.from(`:${e.expireAt}\r\n`));
  return Buffer.concat(parts);
}

export function encodeFetchReply(entries: readonly FetchEntry[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${entries.length * 2}\r\n`)];
  for (const e of entries) parts.push(Buffer.from(`:${e.pttl}\r\n`), ...bulk(e.payload));
  return Buffer.concat(parts);
}

export function encodePutReply(results: readonly (number | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${results.length}\r\n`)];
  for (const r of results) parts.push(typeof r === 'number' ? Buffer.from(`:${r}\r\n`) : Buffer.concat(bulk(r.replace(/[\r\n]/g, ' '))));
  return Buffer.concat(parts);
}

export function repairError(why: string): Buffer {
  return Buffer.from(`-ERR dynoproxy repair: ${why.replace(/[\r\n]/g, ' ')}\r\n`);
}

type Item = number | Buffer;

/** A reply as the requester reads it: the flat array of integers and bulk strings, or the error text (or why it is not an array). */
export function decodeFlatArray(buf: Uint8Array, start: number, end: number): Item[] | string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = start;
  const line = (): string | null => {
    const nl = b.indexOf(13, p);
    if (nl < 0 || nl + 1 >= end) return null;
    const s = b.toString('latin1', p, nl);
    p = nl + 2;
    return s;
  };
  if (end <= start) return 'empty reply';
  if (b[start] === 0x2d) return b.toString('utf8', start + 1, Math.max(start + 1, end - 2));
  const head = line();
  if (head === null || head[0] !== '*') return 'not an array';
  const n = Number(head.slice(1));
  if (!Number.isInteger(n) || n < 0) return 'bad array length';
  const out: Item[] = [];
  for (let i = 0; i < n; i++) {
    const h = line();
    if (h === null) return 'truncated reply';
    if (h[0] === ':') {
      const v = Number(h.slice(1));
      if (!Number.isInteger(v)) return 'bad integer';
      out.push(v);
    } else if (h[0] === '$') {
      const len = Number(h.slice(1));
      if (!Number.isInteger(len) || len < 0 || p + len + 2 > end) return 'bad bulk string';
      out.push(Buffer.from(b.subarray(p, p + len)));
      p += len + 2;
    } else return `unexpected element '${h.slice(0, 20)}'`;
  }
  return out;
}

export function decodeDigestReply(items: Item[]): DigestReply | string {
  const [done, keys, table] = items;
  if (typeof done !== 'number' || typeof keys !== 'number') return 'malformed digest reply';
  if (done === 0) return { done: false, keys, table: null };
  if (!Buffer.isBuffer(table) || table.length % 12 !== 0) return 'malformed digest table';
  return { done: true, keys, table };
}

export function decodeKeysReply(items: Item[]): KeyEntry[] | string {
  if (items.length % 3 !== 0) return 'malformed keys reply';
  const out: KeyEntry[] = [];
  for (let i = 0; i < items.length; i += 3) {
    const [key, digest, expireAt] = [items[i], items[i + 1], items[i + 2]];
    if (!Buffer.isBuffer(key) || !Buffer.isBuffer(digest) || typeof expireAt !== 'number') return 'malformed keys entry';
    out.push({ key, digest: digest.toString('latin1'), expireAt });
  }
  return out;
}

export function decodeFetchReply(items: Item[]): FetchEntry[] | string {
  if (items.length % 2 !== 0) return 'malformed fetch reply';
  const out: FetchEntry[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const [pttl, payload] = [items[i], items[i + 1]];
    if (typeof pttl !== 'number' || !Buffer.isBuffer(payload)) return 'malformed fetch entry';
    out.push({ pttl, payload });
  }
  return out;
}
