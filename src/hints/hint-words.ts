// What a reply or a request means to hinted handoff, per protocol: "not stored" replies, and writes safe to apply twice.
// Never allocates: byte comparisons on the reply or request bytes in place.

/** A protocol's words: replies meaning the write was not stored, and whether a write may be replayed after an ambiguous failure. */
export interface HintWords {
  notStored(buf: Uint8Array, start: number, end: number): boolean;
  /** A write that applying twice leaves as applying once (SET, DEL ...): hinted even after a timeout or a lost connection. */
  idempotent(buf: Uint8Array, start: number, end: number): boolean;
}

function startsWith(buf: Uint8Array, start: number, end: number, p: Uint8Array): boolean {
  if (end - start < p.length) return false;
  for (let i = 0; i < p.length; i++) if (buf[start + i] !== p[i]) return false;
  return true;
}

/** `buf[start, start+len)` equals the lower-case ASCII word `w`, ignoring case. */
function sameWord(buf: Uint8Array, start: number, len: number, w: Uint8Array): boolean {
  if (len !== w.length) return false;
  for (let i = 0; i < len; i++) if ((buf[start + i] | 0x20) !== w[i]) return false;
  return true;
}

function anyWord(buf: Uint8Array, start: number, len: number, words: readonly Uint8Array[]): boolean {
  for (const w of words) if (sameWord(buf, start, len, w)) return true;
  return false;
}

const lower = (names: string[]): Uint8Array[] => names.map((n) => Buffer.from(n.toLowerCase()));

const RESP_NOT_STORED = [Buffer.from('-ERR Storage:'), Buffer.from("-ERR Dynomite: Dynomite's current state")];
/** Writes whose second application changes nothing (for the same arguments, in order per key). */
const RESP_IDEMPOTENT = lower([
  'SET', 'SETEX', 'PSETEX', 'SETNX', 'MSET', 'DEL', 'UNLINK', 'HSET', 'HMSET', 'HSETNX', 'HDEL', 'SADD', 'SREM', 'ZREM',
  'EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT', 'PERSIST', 'GETSET', 'GETDEL',
]);

/** RESP: the command name of `*N\r\n$L\r\nNAME\r\n...`. */
function respIdempotent(buf: Uint8Array, start: number, end: number): boolean {
  if (buf[start] !== 0x2a) return false;
  let i = start + 1;
  while (i < end && buf[i] !== 0x0a) i++;
  i++;
  if (i >= end || buf[i] !== 0x24) return false;
  let len = 0;
  for (i++; i < end && buf[i] >= 0x30 && buf[i] <= 0x39; i++) len = len * 10 + buf[i] - 0x30;
  i += 2;
  return i + len <= end && anyWord(buf, i, len, RESP_IDEMPOTENT);
}

export const RESP_HINT_WORDS: HintWords = {
  notStored(buf, start, end) {
    for (const p of RESP_NOT_STORED) if (startsWith(buf, start, end, p)) return true;
    return false;
  },
  idempotent: respIdempotent,
};

/** memcached: NOT_STORED, EXISTS and NOT_FOUND are answers; a datastore down, a refusing state or memcached out of memory is not stored. */
const MC_NOT_STORED = [Buffer.from('SERVER_ERROR Storage:'), Buffer.from("SERVER_ERROR Dynomite: Dynomite's current state"), Buffer.from('SERVER_ERROR out of memory')];
const MC_IDEMPOTENT = lower(['set', 'add', 'replace', 'delete', 'touch']);

function mcIdempotent(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && buf[i] !== 0x20 && buf[i] !== 0x0d) i++;
  return anyWord(buf, start, i - start, MC_IDEMPOTENT);
}

export const MEMCACHE_HINT_WORDS: HintWords = {
  notStored(buf, start, end) {
    for (const p of MC_NOT_STORED) if (startsWith(buf, start, end, p)) return true;
    return false;
  },
  idempotent: mcIdempotent,
};
