// MemcacheReplyScanner: finds where one memcached reply unit ends, jumping over values by length, resumably.
// Pure: no I/O, no copies of values, no allocation per reply; it never reads past `end`.
import {
  CMD_ADD, CMD_APPEND, CMD_CAS, CMD_DECR, CMD_DELETE, CMD_FLUSH_ALL, CMD_GAT, CMD_GATS, CMD_GET, CMD_GETS, CMD_INCR,
  CMD_MA, CMD_MD, CMD_ME, CMD_MG, CMD_MN, CMD_MS, CMD_PREPEND, CMD_REPLACE, CMD_SET, CMD_STATS, CMD_TOUCH,
  CMD_VERBOSITY, CMD_VERSION,
} from './command-ids.ts';
import { bytesOf } from './line-tokens.ts';

export const SCAN_INCOMPLETE = 0;
export const SCAN_ERROR = -1;

// What a reply to each kind of request looks like. Every kind also accepts one error line (ERROR...,
// CLIENT_ERROR ..., SERVER_ERROR ...) as the whole reply.
/** Told nothing: VALUE... END, STAT... END and VA + data are recognised by their first line; else one line. */
export const RK_ANY = 0;
/** set/add/replace/append/prepend/cas: STORED, NOT_STORED, EXISTS or NOT_FOUND. */
export const RK_STORAGE = 1;
/** get/gets/gat/gats: any number of "VALUE <key> <flags> <bytes> [<cas>]" + data, then END. */
export const RK_RETRIEVAL = 2;
/** delete: DELETED or NOT_FOUND. */
export const RK_DELETE = 3;
/** incr/decr: the new value (digits) or NOT_FOUND. */
export const RK_ARITHMETIC = 4;
/** touch: TOUCHED or NOT_FOUND. */
export const RK_TOUCH = 5;
/** verbosity, flush_all: OK. */
export const RK_OK = 6;
/** version: "VERSION <x>". */
export const RK_VERSION = 7;
/** stats: lines (STAT, ITEM, PREFIX...) up to END; or one line (RESET, OK). */
export const RK_STATS = 8;
/** mg/ms/md/ma: HD, EN, NF, NS, EX (OK with meta_response_old), with flags; or "VA <size> <flags>*" + data. */
export const RK_META = 9;
/** me: one "ME <key> <k=v>*" line, or EN. */
export const RK_META_DEBUG = 10;
/** mn: MN. */
export const RK_MN = 11;

/** The reply kind a request with this CMD_* gets (RK_ANY for anything else). */
export function replyKindFor(cmd: number): number {
  switch (cmd) {
    case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS: return RK_RETRIEVAL;
    case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND: case CMD_CAS: return RK_STORAGE;
    case CMD_DELETE: return RK_DELETE;
    case CMD_INCR: case CMD_DECR: return RK_ARITHMETIC;
    case CMD_TOUCH: return RK_TOUCH;
    case CMD_VERBOSITY: case CMD_FLUSH_ALL: return RK_OK;
    case CMD_VERSION: return RK_VERSION;
    case CMD_STATS: return RK_STATS;
    case CMD_MG: case CMD_MS: case CMD_MD: case CMD_MA: return RK_META;
    case CMD_ME: return RK_META_DEBUG;
    case CMD_MN: return RK_MN;
    default: return RK_ANY;
  }
}

const W = {
  value: bytesOf('VALUE '),
  end: bytesOf('END'),
  stat: bytesOf('STAT '),
  va: bytesOf('VA '),
  me: bytesOf('ME '),
  version: bytesOf('VERSION '),
  error: bytesOf('ERROR'),
  clientError: bytesOf('CLIENT_ERROR'),
  serverError: bytesOf('SERVER_ERROR'),
  stored: bytesOf('STORED'),
  notStored: bytesOf('NOT_STORED'),
  exists: bytesOf('EXISTS'),
  notFound: bytesOf('NOT_FOUND'),
  deleted: bytesOf('DELETED'),
  touched: bytesOf('TOUCHED'),
  ok: bytesOf('OK'),
  reset: bytesOf('RESET'),
  mn: bytesOf('MN'),
  en: bytesOf('EN'),
};
const META_CODES = ['HD', 'EN', 'NF', 'NS', 'EX', 'OK'].map(bytesOf);

const PH_FIRST = 0; // the unit's first line
const PH_NEXT = 1; // retrieval: after a value, expecting VALUE, END or an error line
const PH_STATS = 2; // stats: lines until END
const PH_DATA = 3; // a value's bytes and CR LF

// The smallest rest of a retrieval or stats reply: "END\r\n".
const END_LINE_BYTES = 5;

export interface ReplyLimits {
  /** Longest reply line (VALUE, VA, STAT... lines are a few hundred bytes at most). */
  maxLineBytes: number;
  /** Largest value (memcached's -I can reach 1 GiB). */
  maxValueBytes: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = Object.freeze({ maxLineBytes: 8192, maxValueBytes: 1024 * 1024 * 1024 });

export class MemcacheReplyScanner {
  needed = 0;
  isError = false;
  /** RK_* of the last complete unit (what RK_ANY resolved to: RK_RETRIEVAL, RK_STATS, RK_META or RK_ANY). */
  kind = RK_ANY;
  /** VALUE items in the last retrieval unit. */
  items = 0;

  private readonly maxLine: number;
  private readonly maxValue: number;
  private expected = RK_ANY;
  private partial = false;
  private mode = RK_ANY;
  private phase = PH_FIRST;
  /** Relative to the unit's first byte: where the current line starts, and how far it was searched. */
  private lineRel = 0;
  private searchRel = 0;
  /** Relative: where the CR LF after the current value sits. */
  private dataEndRel = 0;
  private count = 0;

  constructor(limits: ReplyLimits = DEFAULT_REPLY_LIMITS) {
    this.maxLine = limits.maxLineBytes;
    this.maxValue = limits.maxValueBytes;
  }

  /** The kind of reply the next scan() calls look for (it stays until changed). */
  expect(kind: number): void {
    this.expected = kind;
  }

  reset(): void {
    this.partial = false;
  }

  /**
   * Scan one reply unit at buf[pos, end): its end offset (> pos), SCAN_INCOMPLETE, or SCAN_ERROR (the stream is
   * not a reply of that kind: the backend connection must be dropped). After SCAN_INCOMPLETE the next call must
   * present the same partial unit at its `pos`, with more bytes after it; call reset() to scan anything else.
   */
  scan(buf: Uint8Array, pos: number, end: number, kind: number = this.expected): number {
    if (!this.partial || this.lineRel > end - pos) {
      this.mode = kind;
      this.phase = PH_FIRST;
      this.lineRel = 0;
      this.searchRel = 0;
      this.count = 0;
    }
    for (;;) {
      if (this.phase === PH_DATA) {
        const after = this.dataEndRel + 2;
        if (end - pos < after) return this.incomplete(after + (this.mode === RK_RETRIEVAL ? END_LINE_BYTES : 0));
        const d = pos + this.dataEndRel;
        if (buf[d] !== 13 || buf[d + 1] !== 10) return this.fail();
        this.lineRel = after;
        this.searchRel = after;
        if (this.mode !== RK_RETRIEVAL) return this.done(pos + after, false);
        this.phase = PH_NEXT;
      }
      const ls = pos + this.lineRel;
      const bound = ls + this.maxLine + 2;
      const stop = end < bound ? end : bound;
      let i = pos + this.searchRel;
      while (i < stop && buf[i] !== 10) i++;
      if (i >= stop) {
        if (stop === bound) return this.fail();
        this.searchRel = i - pos;
        const rest = this.phase === PH_FIRST ? 0 : this.lineRel + END_LINE_BYTES;
        return this.incomplete(Math.max(end - pos + 1, rest));
      }
      if (i - 1 <= ls || buf[i - 1] !== 13) return this.fail();
      const le = i - 1;
      const next = i + 1;
      this.lineRel = next - pos;
      this.searchRel = this.lineRel;
      const r = this.onLine(buf, ls, le, next);
      if (r !== 0) return r;
    }
  }

  /** One complete line [ls, le) (its CR LF ends at next): returns the unit's end, SCAN_ERROR, or 0 to go on. */
  private onLine(buf: Uint8Array, ls: number, le: number, next: number): number {
    const phase = this.phase;
    if (phase === PH_STATS) return lineIs(buf, ls, le, W.end) ? this.done(next, false) : 0;
    if (isErrorLine(buf, ls, le)) return this.done(next, true);
    if (phase === PH_NEXT) {
      if (lineIs(buf, ls, le, W.end)) return this.done(next, false);
      return this.valueLine(buf, ls, le);
    }
    switch (this.mode) {
      case RK_RETRIEVAL:
        return lineIs(buf, ls, le, W.end) ? this.done(next, false) : this.valueLine(buf, ls, le);
      case RK_STATS:
        if (lineIs(buf, ls, le, W.end) || lineIs(buf, ls, le, W.reset) || lineIs(buf, ls, le, W.ok)) {
          return this.done(next, false);
        }
        this.phase = PH_STATS;
        return 0;
      case RK_META:
        if (startsWith(buf, ls, le, W.va)) return this.vaLine(buf, ls, le);
        for (let k = 0; k < META_CODES.length; k++) {
          if (startsWith(buf, ls, le, META_CODES[k]) && (ls + 2 === le || buf[ls + 2] === 32)) return this.done(next, false);
        }
        return this.fail();
      case RK_META_DEBUG:
        return startsWith(buf, ls, le, W.me) || lineIs(buf, ls, le, W.en) ? this.done(next, false) : this.fail();
      case RK_MN:
        return lineIs(buf, ls, le, W.mn) ? this.done(next, false) : this.fail();
      case RK_STORAGE:
        return lineIs(buf, ls, le, W.stored) || lineIs(buf, ls, le, W.notStored) || lineIs(buf, ls, le, W.exists) ||
          lineIs(buf, ls, le, W.notFound)
          ? this.done(next, false)
          : this.fail();
      case RK_DELETE:
        return lineIs(buf, ls, le, W.deleted) || lineIs(buf, ls, le, W.notFound) ? this.done(next, false) : this.fail();
      case RK_ARITHMETIC:
        return isDigits(buf, ls, le) || lineIs(buf, ls, le, W.notFound) ? this.done(next, false) : this.fail();
      case RK_TOUCH:
        return lineIs(buf, ls, le, W.touched) || lineIs(buf, ls, le, W.notFound) ? this.done(next, false) : this.fail();
      case RK_OK:
        return lineIs(buf, ls, le, W.ok) ? this.done(next, false) : this.fail();
      case RK_VERSION:
        return startsWith(buf, ls, le, W.version) ? this.done(next, false) : this.fail();
      default:
        // RK_ANY (or an unknown kind): the first line says what follows.
        if (startsWith(buf, ls, le, W.value)) {
          this.mode = RK_RETRIEVAL;
          return this.valueLine(buf, ls, le);
        }
        if (startsWith(buf, ls, le, W.va)) {
          this.mode = RK_META;
          return this.vaLine(buf, ls, le);
        }
        if (startsWith(buf, ls, le, W.stat)) {
          this.mode = RK_STATS;
          this.phase = PH_STATS;
          return 0;
        }
        return this.done(next, false);
    }
  }

  /** "VALUE <key> <flags> <bytes> [<cas>]": go on to its data. */
  private valueLine(buf: Uint8Array, ls: number, le: number): number {
    const len = valueLineDataLength(buf, ls, le);
    if (len < 0 || len > this.maxValue) return this.fail();
    this.count++;
    return this.toData(len);
  }

  /** "VA <size> <flags>*": go on to its data. */
  private vaLine(buf: Uint8Array, ls: number, le: number): number {
    let i = ls + 3;
    const first = i;
    let v = 0;
    while (i < le && buf[i] >= 48 && buf[i] <= 57 && i - first < 11) v = v * 10 + (buf[i++] - 48);
    if (i === first || (i < le && buf[i] !== 32) || v > this.maxValue) return this.fail();
    return this.toData(v);
  }

  /** The value's bytes start where the next line would (lineRel). */
  private toData(len: number): number {
    this.dataEndRel = this.lineRel + len;
    this.phase = PH_DATA;
    return 0;
  }

  private done(unitEnd: number, isError: boolean): number {
    this.partial = false;
    this.isError = isError;
    this.kind = this.mode;
    this.items = this.count;
    return unitEnd;
  }

  private incomplete(needed: number): number {
    this.partial = true;
    this.needed = needed;
    return SCAN_INCOMPLETE;
  }

  private fail(): number {
    this.partial = false;
    return SCAN_ERROR;
  }
}

function lineIs(buf: Uint8Array, ls: number, le: number, word: Uint8Array): boolean {
  return le - ls === word.length && startsWith(buf, ls, le, word);
}

function startsWith(buf: Uint8Array, ls: number, le: number, word: Uint8Array): boolean {
  const n = word.length;
  if (le - ls < n) return false;
  for (let k = 0; k < n; k++) if (buf[ls + k] !== word[k]) return false;
  return true;
}

function isDigits(buf: Uint8Array, ls: number, le: number): boolean {
  if (le === ls) return false;
  for (let i = ls; i < le; i++) if (buf[i] < 48 || buf[i] > 57) return false;
  return true;
}

function isErrorLine(buf: Uint8Array, ls: number, le: number): boolean {
  return startsWith(buf, ls, le, W.error) || startsWith(buf, ls, le, W.clientError) || startsWith(buf, ls, le, W.serverError);
}

/** Reads a run of digits at i (at most 20) up to a space or le; returns the index after it, or -1. */
function skipNumber(buf: Uint8Array, i: number, le: number): number {
  const first = i;
  while (i < le && buf[i] >= 48 && buf[i] <= 57) i++;
  if (i === first || i - first > 20 || (i < le && buf[i] !== 32)) return -1;
  return i;
}

/** The <bytes> of a "VALUE <key> <flags> <bytes> [<cas>]" line [ls, le), or -1 if it is not one. */
export function valueLineDataLength(buf: Uint8Array, ls: number, le: number): number {
  if (!startsWith(buf, ls, le, W.value)) return -1;
  let i = ls + 6;
  const keyStart = i;
  while (i < le && buf[i] !== 32) i++;
  if (i === keyStart || i === le) return -1;
  i = skipNumber(buf, i + 1, le);
  if (i < 0 || i === le) return -1;
  const lenStart = i + 1;
  i = skipNumber(buf, lenStart, le);
  if (i < 0 || i - lenStart > 10) return -1;
  let len = 0;
  for (let k = lenStart; k < i; k++) len = len * 10 + (buf[k] - 48);
  if (i < le && skipNumber(buf, i + 1, le) !== le) return -1;
  return len;
}

/** Where the key of a VALUE item starting at itemStart ends (the key starts at itemStart + 6); -1 if malformed. */
export function valueKeyEnd(buf: Uint8Array, itemStart: number, end: number): number {
  if (!startsWith(buf, itemStart, end, W.value)) return -1;
  let i = itemStart + 6;
  while (i < end && buf[i] !== 32 && buf[i] !== 13 && buf[i] !== 10) i++;
  return i < end && buf[i] === 32 && i > itemStart + 6 ? i : -1;
}

/**
 * For a complete retrieval reply in buf[start, end): writes each VALUE item's start to out[0..n-1] and
 * out[n] = the start of its "END\r\n" (item k is [out[k], out[k+1])); returns n. Returns -1 for anything else
 * (an error reply, a malformed or truncated one) and -2 when out has fewer than n+1 slots.
 */
export function valueBounds(buf: Uint8Array, start: number, end: number, out: Int32Array): number {
  let p = start;
  let n = 0;
  for (;;) {
    let i = p;
    while (i < end && buf[i] !== 10) i++;
    if (i >= end || i === p || buf[i - 1] !== 13) return -1;
    const le = i - 1;
    if (lineIs(buf, p, le, W.end)) {
      if (out.length < n + 1) return -2;
      out[n] = p;
      return n;
    }
    const len = valueLineDataLength(buf, p, le);
    if (len < 0) return -1;
    const dataEnd = i + 1 + len;
    if (dataEnd + 2 > end || buf[dataEnd] !== 13 || buf[dataEnd + 1] !== 10) return -1;
    if (n < out.length) out[n] = p;
    n++;
    p = dataEnd + 2;
  }
}

/** Whether the reply at buf[start, end) is an error line (ERROR, CLIENT_ERROR or SERVER_ERROR). */
export function isErrorReply(buf: Uint8Array, start: number, end: number): boolean {
  return isErrorLine(buf, start, end);
}
