// RespRequestParser: incremental, zero-copy, resumable parser of client requests (multibulk and inline), Redis-compatible.
// Pure: no I/O, and never allocates per frame (its arrays grow by doubling only past the largest request seen; errors build one string).
import { splitInlineArgs, INLINE_UNBALANCED, type InlineArgSink } from './inline-args.ts';

export const PARSE_INCOMPLETE = 0;
export const PARSE_ERROR = -1;

export interface RespLimits {
  /** Most arguments in one multibulk request (Redis: 1024*1024). */
  maxArgs: number;
  /** Longest bulk argument (Redis proto-max-bulk-len: 512 MiB). */
  maxBulkBytes: number;
  /** Longest inline line, and the bound Redis puts on a line with no newline yet (PROTO_INLINE_MAX_SIZE: 64 KiB). */
  maxInlineBytes: number;
  /** Longest whole request frame; offsets are Int32, so it is capped at 2^31-1. */
  maxRequestBytes: number;
}

export const DEFAULT_RESP_LIMITS: RespLimits = Object.freeze({
  maxArgs: 1024 * 1024,
  maxBulkBytes: 512 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
  maxRequestBytes: 512 * 1024 * 1024,
});

// Parser states between calls. Progress is kept relative to the frame's first byte, so the caller may move the
// partial frame to another buffer (the gather buffer) and resume there.
const ST_IDLE = 0; // at a frame boundary (a partial "*N" line is simply re-read: it is at most 23 bytes)
const ST_INLINE = 1; // inside an inline line; `cursor` = bytes already searched for "\n"
const ST_BULK_HEADER = 2; // inside a multibulk, `cursor` = where the next "$len" line starts
const ST_BULK_DATA = 3; // inside a multibulk, `cursor` = where the current bulk's bytes start
const ST_INLINE_NUL = 4; // an inline line with a NUL before any newline: only "too big" can end it

// readNumber's failures (it otherwise returns the offset after the line's "\r\n").
const NUM_INCOMPLETE = -2;
const NUM_INVALID = -3;
const NUM_TOO_LONG = -4;
// Redis's string2ll refuses strings of LONG_STR_SIZE (21) characters or more; no valid count is longer.
const MAX_NUMBER_CHARS = 20;
// The smallest possible argument, "$0\r\n\r\n": used for lower bounds of a frame's length.
const MIN_ARG_BYTES = 6;

const MSG_INVALID_MULTIBULK = 'Protocol error: invalid multibulk length';
const MSG_INVALID_BULK = 'Protocol error: invalid bulk length';
const MSG_BIG_MULTIBULK_COUNT = 'Protocol error: too big mbulk count string';
const MSG_BIG_BULK_COUNT = 'Protocol error: too big bulk count string';
const MSG_BIG_INLINE = 'Protocol error: too big inline request';
const MSG_UNBALANCED = 'Protocol error: unbalanced quotes in request';
const MSG_TOO_LARGE = 'Protocol error: request too large';
// Redis skips the two bytes after a bulk without looking at them; we insist on CRLF so a wrong length fails here.
const MSG_BULK_NOT_CRLF = 'Protocol error: expected CRLF after bulk data';

// readSmallNumber's result: a module slot rather than an object, so the fast path allocates nothing.
let smallNumber = 0;

/**
 * The common header "<1 to 9 digits, no leading zero>\r\n" at p, wholly before end: returns the offset after it
 * (value in smallNumber), or -1 to send every other case (zero, signs, long, partial, invalid) to readNumber.
 */
function readSmallNumber(buf: Uint8Array, p: number, end: number): number {
  if (p >= end) return -1;
  let v = buf[p] - 48;
  if (v < 1 || v > 9) return -1;
  let i = p + 1;
  const stop = p + 9 < end ? p + 9 : end;
  while (i < stop) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    i++;
  }
  if (i + 1 >= end || buf[i] !== 13 || buf[i + 1] !== 10) return -1;
  smallNumber = v;
  return i + 2;
}

export class RespRequestParser implements InlineArgSink {
  argc = 0;
  argBuf: Uint8Array = new Uint8Array(0);
  argOff: Int32Array;
  argLen: Int32Array;
  inline = false;
  frameStart = 0;
  needed = 0;
  errorMessage = '';
  /** Inline arguments, unescaped (argBuf points here after an inline frame). */
  scratch: Uint8Array = new Uint8Array(0);

  private readonly maxArgs: number;
  private readonly maxBulk: number;
  private readonly maxInline: number;
  private readonly maxRequest: number;
  private state = ST_IDLE;
  private cursor = 0;
  /** Arguments still to read in the current multibulk, the current one included. */
  private remaining = 0;
  private bulkLen = 0;
  /** readNumber's result. */
  private num = 0;

  constructor(limits: RespLimits = DEFAULT_RESP_LIMITS) {
    this.maxArgs = limits.maxArgs;
    this.maxBulk = limits.maxBulkBytes;
    this.maxInline = limits.maxInlineBytes;
    this.maxRequest = Math.min(limits.maxRequestBytes, 0x7fffffff);
    this.argOff = new Int32Array(64);
    this.argLen = new Int32Array(64);
  }

  reset(): void {
    this.state = ST_IDLE;
    this.cursor = 0;
    this.remaining = 0;
    this.argc = 0;
  }

  ensureArgCapacity(n: number): void {
    let cap = this.argOff.length;
    if (n <= cap) return;
    while (cap < n) cap *= 2;
    const off = new Int32Array(cap);
    const len = new Int32Array(cap);
    off.set(this.argOff);
    len.set(this.argLen);
    this.argOff = off;
    this.argLen = len;
  }

  /**
   * Parse one request at buf[pos, end). Returns the frame's end offset (> pos), PARSE_INCOMPLETE or PARSE_ERROR.
   * After PARSE_INCOMPLETE the next call must present the same partial frame (from `frameStart`) at its `pos`,
   * with more bytes after it; call reset() before parsing anything else.
   */
  parse(buf: Uint8Array, pos: number, end: number): number {
    const state = this.state;
    let p = pos;
    if (state !== ST_IDLE) {
      // The caller presented fewer bytes than we had already seen: the contract was broken, start over.
      if (this.cursor > end - pos) this.reset();
      else if (state === ST_INLINE) {
        const r = this.parseInline(buf, pos, end);
        if (r <= 0 || this.argc > 0) return r;
        p = r; // it was an empty line: go on with what follows
      } else if (state === ST_INLINE_NUL) return this.waitInlineNul(pos, end);
      else return this.parseBulks(buf, pos, pos + this.cursor, end);
    }
    for (;;) {
      if (p >= end) return this.incomplete(p, 1);
      if (buf[p] === 42 /* * */) {
        let r = readSmallNumber(buf, p + 1, end);
        let count = smallNumber;
        if (r < 0) {
          r = this.readNumber(buf, p + 1, end, true);
          if (r < 0) {
            if (r === NUM_INCOMPLETE) return this.incomplete(p, end - p + 1);
            return this.fail(r === NUM_TOO_LONG ? MSG_BIG_MULTIBULK_COUNT : MSG_INVALID_MULTIBULK);
          }
          count = this.num;
        }
        // "*0" and "*-N" are no request at all, as in Redis: skip them.
        if (count <= 0) {
          p = r;
          continue;
        }
        if (count > this.maxArgs) return this.fail(MSG_INVALID_MULTIBULK);
        if (r - p + count * MIN_ARG_BYTES > this.maxRequest) return this.fail(MSG_TOO_LARGE);
        this.argc = 0;
        this.remaining = count;
        this.state = ST_BULK_HEADER;
        return this.parseBulks(buf, p, r, end);
      }
      this.cursor = 0;
      const r = this.parseInline(buf, p, end);
      // An empty (or all-blank) line is no request: consume it and look at what follows.
      if (r > 0 && this.argc === 0) {
        p = r;
        continue;
      }
      return r;
    }
  }

  /** Multibulk arguments from p onward, for the frame that starts at base; offsets are kept relative to base. */
  private parseBulks(buf: Uint8Array, base: number, p: number, end: number): number {
    let argOff = this.argOff;
    let argLen = this.argLen;
    let argc = this.argc;
    let remaining = this.remaining;
    let state = this.state;
    const maxBulk = this.maxBulk;
    const maxRequest = this.maxRequest;
    while (remaining > 0) {
      if (state === ST_BULK_HEADER) {
        if (p >= end) break;
        if (buf[p] !== 36 /* $ */) return this.failExpectedDollar(buf[p]);
        let r = readSmallNumber(buf, p + 1, end);
        let len = smallNumber;
        if (r < 0) {
          r = this.readNumber(buf, p + 1, end, false);
          if (r < 0) {
            if (r === NUM_INCOMPLETE) break;
            return this.fail(r === NUM_TOO_LONG ? MSG_BIG_BULK_COUNT : MSG_INVALID_BULK);
          }
          len = this.num;
        }
        if (len > maxBulk) return this.fail(MSG_INVALID_BULK);
        if (r - base + len + 2 + (remaining - 1) * MIN_ARG_BYTES > maxRequest) return this.fail(MSG_TOO_LARGE);
        this.bulkLen = len;
        state = ST_BULK_DATA;
        p = r;
      }
      // The payload is never scanned: jump over it by its length.
      const len = this.bulkLen;
      if (end - p < len + 2) break;
      const after = p + len;
      if (buf[after] !== 13 || buf[after + 1] !== 10) return this.fail(MSG_BULK_NOT_CRLF);
      if (argc === argOff.length) {
        this.ensureArgCapacity(argc + 1);
        argOff = this.argOff;
        argLen = this.argLen;
      }
      argOff[argc] = p - base;
      argLen[argc] = len;
      argc++;
      remaining--;
      p = after + 2;
      state = ST_BULK_HEADER;
    }
    this.argc = argc;
    if (remaining > 0) {
      this.remaining = remaining;
      this.state = state;
      this.cursor = p - base;
      const avail = end - base;
      let needed: number;
      if (state === ST_BULK_DATA) needed = p - base + this.bulkLen + 2 + (remaining - 1) * MIN_ARG_BYTES;
      else needed = Math.max(avail + 1, p - base + remaining * MIN_ARG_BYTES);
      return this.incomplete(base, needed);
    }
    if (base !== 0) for (let i = 0; i < argc; i++) argOff[i] += base;
    this.state = ST_IDLE;
    this.cursor = 0;
    this.remaining = 0;
    this.argBuf = buf;
    this.inline = false;
    this.frameStart = base;
    return p;
  }

  /**
   * An inline line at base. Like Redis, the line ends at the first "\n" (a "\r" before it is dropped), and a line
   * with no "\n" among its first maxInline+1 bytes is refused; a NUL byte before the "\n" hides the newline from
   * Redis's strchr(), so such a line waits until it is refused as too big, exactly as Redis does.
   */
  private parseInline(buf: Uint8Array, base: number, end: number): number {
    const limit = Math.min(end, base + this.maxInline + 1);
    let i = base + this.cursor;
    while (i < limit) {
      const c = buf[i];
      if (c === 10) break;
      if (c === 0) {
        this.state = ST_INLINE_NUL;
        this.cursor = i + 1 - base;
        return this.waitInlineNul(base, end);
      }
      i++;
    }
    if (i >= limit) {
      if (end - base > this.maxInline) return this.fail(MSG_BIG_INLINE);
      this.state = ST_INLINE;
      this.cursor = i - base;
      return this.incomplete(base, end - base + 1);
    }
    const lineEnd = i > base && buf[i - 1] === 13 ? i - 1 : i;
    const lineLen = lineEnd - base;
    if (this.scratch.length < lineLen) {
      let cap = this.scratch.length || 256;
      while (cap < lineLen) cap *= 2;
      this.scratch = new Uint8Array(cap);
    }
    this.state = ST_IDLE;
    this.cursor = 0;
    const argc = splitInlineArgs(buf, base, lineEnd, this);
    if (argc === INLINE_UNBALANCED) return this.fail(MSG_UNBALANCED);
    this.argc = argc;
    this.argBuf = this.scratch;
    this.inline = true;
    this.frameStart = base;
    return i + 1;
  }

  private waitInlineNul(base: number, end: number): number {
    if (end - base > this.maxInline) return this.fail(MSG_BIG_INLINE);
    return this.incomplete(base, this.maxInline + 1);
  }

  /**
   * Reads the decimal number of a "*N" / "$N" line at p (after the type byte) up to its "\r\n", with Redis's
   * string2ll rules: optional '-' (only where allowed), no leading zeros, at most 20 characters. Fails as soon
   * as the bytes seen can no longer make a valid number, so a garbage header never waits for more input.
   */
  private readNumber(buf: Uint8Array, p: number, end: number, allowNegative: boolean): number {
    let i = p;
    let v = 0;
    let digits = 0;
    let negative = false;
    for (;;) {
      if (i >= end) return NUM_INCOMPLETE;
      const c = buf[i];
      if (c === 13) {
        if (digits === 0) return NUM_INVALID;
        if (i + 1 >= end) return NUM_INCOMPLETE;
        if (buf[i + 1] !== 10) return NUM_INVALID;
        // string2ll's range: below -2^63 is not a number (above any limit is refused by the caller).
        if (negative && v > 9223372036854775808) return NUM_INVALID;
        this.num = negative ? -v : v;
        return i + 2;
      }
      if (i - p >= MAX_NUMBER_CHARS) return NUM_TOO_LONG;
      if (c >= 48 && c <= 57) {
        // "0" alone is a number; "01" and "-0" are not.
        if (digits > 0 && v === 0) return NUM_INVALID;
        if (c === 48 && negative && digits === 0) return NUM_INVALID;
        v = v * 10 + (c - 48);
        digits++;
      } else if (c === 45 && i === p && allowNegative) {
        negative = true;
      } else {
        return NUM_INVALID;
      }
      i++;
    }
  }

  private incomplete(frameStart: number, needed: number): number {
    this.frameStart = frameStart;
    this.needed = needed;
    return PARSE_INCOMPLETE;
  }

  private fail(message: string): number {
    this.reset();
    this.errorMessage = message;
    return PARSE_ERROR;
  }

  private failExpectedDollar(byte: number): number {
    // Redis's addReplyErrorFormat turns CR and LF into spaces so the error line stays one line.
    const shown = byte === 13 || byte === 10 ? ' ' : String.fromCharCode(byte);
    return this.fail(`Protocol error: expected '$', got '${shown}'`);
  }
}
