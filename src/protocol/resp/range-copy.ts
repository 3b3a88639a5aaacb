// DYNOPROXY.RANGE, dynoproxy's private peer-port command for copying a token range (warm-up; meant for anti-entropy's digests too):
// the request and reply codecs and the hash-range checks. Pure: no I/O, no state; a malformed request or reply is a message, never a throw.
//
// Request (RESP array of bulk strings), only on an authenticated peer link:
//   DYNOPROXY.RANGE <cursor> <count> <max-bytes> <from> <to> [<from> <to> ...]
// <cursor> is the opaque cursor of the previous reply ("0" to start), <count> the SCAN COUNT hint (0: report the datastore's key count
// only, scan nothing), <max-bytes> the most payload bytes the reply may carry, each <from> <to> an inclusive range of 32-bit key hashes
// (from <= to; a range that wraps is sent as two). Reply: an array
//   [ <next cursor> (bulk; "0" when the scan is complete), <dbsize> (integer), <scanned> (integer: keys the SCAN step returned),
//     then per key in the ranges: <key> (bulk), <pttl ms> (integer; -1 no expiry), <DUMP payload> (bulk) ]
// or an error: -ERR dynoproxy range: <why>.

export const RANGE_COMMAND = 'DYNOPROXY.RANGE';

/** PTTL and DUMP of every key in one script call (KEYS: the keys): a range copy's source reads a step's keys with one command. */
export const PTTL_DUMP_LUA = "local out = {} for i, k in ipairs(KEYS) do out[2 * i - 1] = redis.call('PTTL', k) out[2 * i] = redis.call('DUMP', k) or '' end return out";
const NAME = Buffer.from(RANGE_COMMAND.toLowerCase());
const MAX_U32 = 0xffffffff;
/** Most ranges one request may name (a node's ranges in a rack: one per token, plus one wrap). */
export const MAX_RANGES = 1024;
/** Most keys one SCAN step may ask for. */
export const MAX_RANGE_COUNT = 100_000;

export interface RangeRequest {
  cursor: string;
  count: number;
  maxBytes: number;
  /** Inclusive [from, to] pairs of key hashes, flat. */
  ranges: number[];
}

export interface RangeEntry {
  key: Buffer;
  pttl: number;
  dump: Buffer;
}

export interface RangeReply {
  cursor: string;
  dbsize: number;
  scanned: number;
  entries: RangeEntry[];
}

/**
 * DYNOPROXY.PURGE takes RANGE's arguments and deletes, in one SCAN step, the keys of the ranges from the answering node's datastore
 * (a token move clears what the receiving node held of a range before it receives the range; nothing routes there yet). Its reply
 * is RANGE's with no entries: the next cursor, the dbsize, the keys scanned.
 */
export const PURGE_COMMAND = 'DYNOPROXY.PURGE';
const PURGE_NAME = Buffer.from(PURGE_COMMAND.toLowerCase());

export function isPurgeCommand(buf: Uint8Array, off: number, len: number): boolean {
  if (len !== PURGE_NAME.length) return false;
  for (let i = 0; i < len; i++) if ((buf[off + i] | 0x20) !== (PURGE_NAME[i] | 0x20)) return false;
  return true;
}

/** Whether argv[0] (bytes buf[off, off+len)) names DYNOPROXY.RANGE, in any case. */
export function isRangeCommand(buf: Uint8Array, off: number, len: number): boolean {
  if (len !== NAME.length) return false;
  for (let i = 0; i < len; i++) if ((buf[off + i] | 0x20) !== (NAME[i] | 0x20)) return false;
  return true;
}

function bulk(b: Buffer | string): Buffer[] {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  return [Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')];
}

export function encodeRangeRequest(r: RangeRequest, command = RANGE_COMMAND): Buffer {
  const args = [command, r.cursor, String(r.count), String(r.maxBytes), ...r.ranges.map(String)];
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => bulk(a))]);
}

function uint(text: string, max: number): number {
  if (!/^\d{1,10}$/.test(text)) return -1;
  const n = Number(text);
  return n > max ? -1 : n;
}

/** The arguments after the command name: the request, or why it is refused. */
export function parseRangeRequest(args: readonly string[]): RangeRequest | string {
  if (args.length < 5 || (args.length - 3) % 2 !== 0) return 'wrong number of arguments: cursor count max-bytes from to [from to ...]';
  const [cursor, countText, maxText] = args;
  if (!/^[0-9]{1,20}(-[0-9]{1,20})?$/.test(cursor)) return `invalid cursor '${cursor.slice(0, 40)}'`;
  const count = uint(countText, MAX_RANGE_COUNT);
  if (count < 0) return `invalid count '${countText.slice(0, 20)}' (0 to ${MAX_RANGE_COUNT})`;
  const maxBytes = uint(maxText, 0x7fffffff);
  if (maxBytes < 1) return `invalid max-bytes '${maxText.slice(0, 20)}'`;
  const ranges: number[] = [];
  if ((args.length - 3) / 2 > MAX_RANGES) return `too many ranges (at most ${MAX_RANGES})`;
  for (let i = 3; i < args.length; i += 2) {
    const from = uint(args[i], MAX_U32);
    const to = uint(args[i + 1], MAX_U32);
    if (from < 0 || to < 0 || from > to) return `invalid hash range '${args[i].slice(0, 20)} ${args[i + 1].slice(0, 20)}' (0 <= from <= to <= ${MAX_U32})`;
    ranges.push(from, to);
  }
  return { cursor, count, maxBytes, ranges };
}

/** Whether a key hash lies in one of the inclusive ranges. */
export function inHashRanges(ranges: readonly number[], hash: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (hash >= ranges[i] && hash <= ranges[i + 1]) return true;
  return false;
}

/** Bytes a reply entry adds (for the max-bytes bound). */
export function entryBytes(key: Buffer, dump: Buffer): number {
  return key.length + dump.length + 40;
}

export function encodeRangeReply(cursor: string, dbsize: number, scanned: number, entries: readonly RangeEntry[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${3 + entries.length * 3}\r\n`), ...bulk(cursor), Buffer.from(`:${dbsize}\r\n:${scanned}\r\n`)];
  for (const e of entries) parts.push(...bulk(e.key), Buffer.from(`:${e.pttl}\r\n`), ...bulk(e.dump));
  return Buffer.concat(parts);
}

export function rangeError(why: string): Buffer {
  return Buffer.from(`-ERR dynoproxy range: ${why.replace(/[\r\n]/g, ' ')}\r\n`);
}

/** A reply as the requester reads it: the decoded reply, or the error text (an error reply's, or why the bytes are not a range reply). */
export function decodeRangeReply(buf: Uint8Array, start: number, end: number): RangeReply | string {
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
  if (!Number.isInteger(n) || n < 3 || (n - 3) % 3 !== 0) return 'wrong element count';
  const bulkAt = (): Buffer | null => {
    const h = line();
    if (h === null || h[0] !== '$') return null;
    const len = Number(h.slice(1));
    if (!Number.isInteger(len) || len < 0 || p + len + 2 > end) return null;
    const v = Buffer.from(b.subarray(p, p + len));
    p += len + 2;
    return v;
  };
  const intAt = (): number | null => {
    const h = line();
    if (h === null || h[0] !== ':') return null;
    const v = Number(h.slice(1));
    return Number.isInteger(v) ? v : null;
  };
  const cursor = bulkAt();
  const dbsize = intAt();
  const scanned = intAt();
  if (cursor === null || dbsize === null || scanned === null) return 'malformed header';
  const entries: RangeEntry[] = [];
  for (let i = 0; i < (n - 3) / 3; i++) {
    const key = bulkAt();
    const pttl = intAt();
    const dump = bulkAt();
    if (key === null || pttl === null || dump === null) return 'malformed entry';
    entries.push({ key, pttl, dump });
  }
  return { cursor: cursor.toString('latin1'), dbsize, scanned, entries };
}

// On a memcached node's peer port the same copy is one text line, `dynoproxy_range <cursor> <count> <max-bytes> <from> <to> ...`, and
// its reply the RESP range reply above wrapped as one value (`VALUE dynoproxy_range 0 <n>` ... `END`), so the link's memcached reply
// scanner frames it; an entry's payload is then the item's flags (4 bytes, big-endian) and its value, its pttl the item's TTL.
// `dynoproxy_purge` (same arguments, same reply with no entries) deletes the listed keys of the ranges instead: a leave clears what its
// successors still hold of its range (stale copies from an earlier membership) before it hands its keys over in add mode.
const MC_NAME = Buffer.from('dynoproxy_range ');
const MC_PURGE_NAME = Buffer.from('dynoproxy_purge ');
/** The part both names share: a request that does not start with it is neither (one byte compared for an ordinary request). */
const MC_PREFIX_LEN = 'dynoproxy_'.length;
export const MC_RANGE = 1;
export const MC_PURGE = 2;

export function encodeMemcacheRangeRequest(r: RangeRequest, purge = false): Buffer {
  return Buffer.from(`${purge ? 'dynoproxy_purge' : 'dynoproxy_range'} ${r.cursor} ${r.count} ${r.maxBytes} ${r.ranges.join(' ')}\r\n`, 'latin1');
}

/** Whether buf[ps, pe) is a dynoproxy_range line. */
export function isMemcacheRangeCommand(buf: Uint8Array, ps: number, pe: number): boolean {
  return memcacheRangeCommand(buf, ps, pe) === MC_RANGE;
}

/** MC_RANGE for a dynoproxy_range line, MC_PURGE for a dynoproxy_purge line, else 0. */
export function memcacheRangeCommand(buf: Uint8Array, ps: number, pe: number): number {
  if (pe - ps < MC_NAME.length) return 0;
  for (let i = 0; i < MC_PREFIX_LEN; i++) if (buf[ps + i] !== MC_NAME[i]) return 0;
  let range = true;
  let purge = true;
  for (let i = MC_PREFIX_LEN; i < MC_NAME.length; i++) {
    if (buf[ps + i] !== MC_NAME[i]) range = false;
    if (buf[ps + i] !== MC_PURGE_NAME[i]) purge = false;
  }
  return range ? MC_RANGE : purge ? MC_PURGE : 0;
}

/** The arguments after the command name of a dynoproxy_range line. */
export function memcacheRangeArgs(buf: Uint8Array, ps: number, pe: number): string[] {
  return Buffer.from(buf.subarray(ps + MC_NAME.length, pe)).toString('latin1').trim().split(/ +/).slice(0, 2 * MAX_RANGES + 3);
}

export function wrapMemcacheRangeReply(inner: Buffer): Buffer {
  if (inner[0] === 0x2d) return Buffer.from(`SERVER_ERROR ${inner.toString('latin1', 5, inner.length - 2).replace(/[\r\n]/g, ' ')}\r\n`, 'latin1');
  return Buffer.concat([Buffer.from(`VALUE dynoproxy_range 0 ${inner.length}\r\n`), inner, Buffer.from('\r\nEND\r\n')]);
}

export function unwrapMemcacheRangeReply(buf: Uint8Array, start: number, end: number): RangeReply | string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const nl = b.indexOf('\r\n', start);
  if (nl < 0 || nl >= end) return 'empty reply';
  const head = b.toString('latin1', start, nl);
  const m = /^VALUE dynoproxy_range 0 (\d+)$/.exec(head);
  if (m === null) return head.replace(/^SERVER_ERROR /, '');
  const len = Number(m[1]);
  if (nl + 2 + len > end) return 'truncated reply';
  return decodeRangeReply(b, nl + 2, nl + 2 + len);
}
