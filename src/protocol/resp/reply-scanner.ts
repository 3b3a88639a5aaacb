// RespReplyScanner: finds where one complete RESP2/RESP3 reply ends, without decoding it, resumably across chunks.
// Pure: no I/O, and never allocates per reply (one preallocated depth stack); it never reads past `end`.

export const SCAN_INCOMPLETE = 0;
export const SCAN_ERROR = -1;

const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_BULK = 512 * 1024 * 1024;
// Counts are kept in an Int32Array, and a map doubles its count.
const MAX_AGGREGATE_COUNT = 0x3fffffff;
// Like Redis's string2ll: no valid length has more characters.
const MAX_NUMBER_CHARS = 20;
// The smallest reply: an empty simple string "+\r\n" (or "_\r\n"). Used for lower bounds of a reply's length.
const MIN_REPLY_BYTES = 3;

const NUM_INCOMPLETE = -2;
const NUM_INVALID = -3;

/**
 * Scans replies. Supported: every RESP2 and RESP3 type; an attribute (`|`) and the reply it decorates are one
 * unit. Refused with SCAN_ERROR: RESP3 streamed strings and aggregates (`$?`, `*?` ...; Redis never sends them),
 * negative lengths other than `$-1` and `*-1`, a CR not followed by LF, nesting deeper than maxDepth, bulks longer
 * than maxBulkBytes, simple lines longer than maxBulkBytes, and any unknown type byte.
 */
export class RespReplyScanner {
  needed = 0;
  type = 0;
  isError = false;

  private readonly maxDepth: number;
  private readonly maxBulk: number;
  /** stack[d]: values still to come at depth d (d = 0 is the reply itself), the current one included. */
  private readonly stack: Int32Array;
  private top = 0;
  private partial = false;
  /** Relative to the reply's first byte: where the value being read begins. */
  private valueRel = 0;
  /** Relative to the reply's first byte: how far a simple line was already searched for its CR. */
  private lineRel = 0;
  private pendingType = 0;
  private num = 0;

  constructor(maxDepth: number = DEFAULT_MAX_DEPTH, maxBulkBytes: number = DEFAULT_MAX_BULK) {
    this.maxDepth = maxDepth;
    this.maxBulk = maxBulkBytes;
    this.stack = new Int32Array(maxDepth + 1);
  }

  reset(): void {
    this.partial = false;
    this.top = 0;
    this.valueRel = 0;
    this.lineRel = 0;
  }

  /**
   * Scan one reply at buf[pos, end): its end offset (> pos), SCAN_INCOMPLETE, or SCAN_ERROR.
   * After SCAN_INCOMPLETE the next call must present the same partial reply at its `pos` with more bytes after
   * it; call reset() before scanning anything else.
   */
  scan(buf: Uint8Array, pos: number, end: number): number {
    const stack = this.stack;
    let top: number;
    let p: number;
    let lineFrom = 0;
    if (this.partial && this.valueRel <= end - pos) {
      top = this.top;
      p = pos + this.valueRel;
      if (this.lineRel > this.valueRel) lineFrom = pos + this.lineRel;
    } else {
      top = 0;
      stack[0] = 1;
      p = pos;
      this.pendingType = 0;
    }
    const maxBulk = this.maxBulk;
    for (;;) {
      if (p >= end) return this.incomplete(pos, p, end, top, end - pos + 1);
      const t = buf[p];
      switch (t) {
        case 43: // + simple string
        case 45: // - error
        case 58: // : integer
        case 44: // , double
        case 95: // _ null
        case 35: // # boolean
        case 40: {
          // ( big number
          let i = lineFrom > p ? lineFrom : p + 1;
          lineFrom = 0;
          // The CR may come at most maxBulk bytes after the type byte.
          const bound = p + 2 + maxBulk;
          const limit = end < bound ? end : bound;
          while (i < limit && buf[i] !== 13) i++;
          if (i >= limit) {
            if (bound <= end) return this.fail();
            this.lineRel = i - pos;
            return this.incomplete(pos, p, end, top, end - pos + 1);
          }
          if (i + 1 >= end) {
            this.lineRel = i - pos;
            return this.incomplete(pos, p, end, top, end - pos + 1);
          }
          if (buf[i + 1] !== 10) return this.fail();
          if (top === 0) this.pendingType = t;
          p = i + 2;
          break;
        }
        case 36: // $ bulk string
        case 33: // ! bulk error
        case 61: {
          // = verbatim string
          const r = this.readNumber(buf, p + 1, end);
          if (r === NUM_INCOMPLETE) return this.incomplete(pos, p, end, top, end - pos + 1);
          if (r < 0) return this.fail();
          const len = this.num;
          if (top === 0) this.pendingType = t;
          if (len < 0) {
            if (len !== -1 || t !== 36) return this.fail();
            p = r;
            break;
          }
          if (len > maxBulk) return this.fail();
          // The payload is never scanned: jump over it by its length.
          if (end - r < len + 2) return this.incomplete(pos, p, end, top, r - pos + len + 2);
          if (buf[r + len] !== 13 || buf[r + len + 1] !== 10) return this.fail();
          p = r + len + 2;
          break;
        }
        case 42: // * array
        case 126: // ~ set
        case 62: // > push
        case 37: // % map
        case 124: {
          // | attribute
          const r = this.readNumber(buf, p + 1, end);
          if (r === NUM_INCOMPLETE) return this.incomplete(pos, p, end, top, end - pos + 1);
          if (r < 0) return this.fail();
          let n = this.num;
          if (n < 0) {
            if (n !== -1 || t !== 42) return this.fail();
            if (top === 0) this.pendingType = t;
            p = r;
            break;
          }
          if (n > MAX_AGGREGATE_COUNT) return this.fail();
          if (t === 37 || t === 124) n *= 2;
          // An attribute is one more value before the value it decorates, at the same depth.
          if (t === 124) stack[top]++;
          else if (top === 0) this.pendingType = t;
          p = r;
          if (n === 0) break;
          if (top === this.maxDepth) return this.fail();
          stack[++top] = n;
          continue;
        }
        default:
          return this.fail();
      }
      // A value is complete: count it, and close every aggregate it completes.
      while (--stack[top] === 0) {
        if (top === 0) {
          this.partial = false;
          this.top = 0;
          this.lineRel = 0;
          const type = this.pendingType;
          this.type = type;
          this.isError = type === 45 || type === 33;
          return p;
        }
        top--;
      }
    }
  }

  private incomplete(pos: number, p: number, end: number, top: number, valueNeeded: number): number {
    this.partial = true;
    this.top = top;
    this.valueRel = p - pos;
    if (this.lineRel < this.valueRel) this.lineRel = 0;
    // Every value still owed after the current one takes at least MIN_REPLY_BYTES.
    let owed = 0;
    const stack = this.stack;
    for (let d = 0; d <= top; d++) owed += stack[d] - 1;
    const avail = end - pos;
    this.needed = Math.max(valueNeeded, avail + 1) + owed * MIN_REPLY_BYTES;
    return SCAN_INCOMPLETE;
  }

  private fail(): number {
    this.reset();
    return SCAN_ERROR;
  }

  /** A length line after the type byte: optional '-', digits, CRLF. Returns the offset after the LF. */
  private readNumber(buf: Uint8Array, p: number, end: number): number {
    let i = p;
    let v = 0;
    let negative = false;
    for (;;) {
      if (i >= end) return NUM_INCOMPLETE;
      const c = buf[i];
      if (c === 13) {
        if (i === p || (negative && i === p + 1)) return NUM_INVALID;
        if (i + 1 >= end) return NUM_INCOMPLETE;
        if (buf[i + 1] !== 10) return NUM_INVALID;
        this.num = negative ? -v : v;
        return i + 2;
      }
      if (i - p >= MAX_NUMBER_CHARS) return NUM_INVALID;
      if (c >= 48 && c <= 57) v = v * 10 + (c - 48);
      else if (c === 45 && i === p) negative = true;
      else return NUM_INVALID;
      i++;
    }
  }
}

const boundsScanner = new RespReplyScanner(DEFAULT_MAX_DEPTH, Number.MAX_SAFE_INTEGER);

/**
 * For a complete array (`*`) or set (`~`) reply in buf[start, end): writes each element's start offset to
 * out[0..n-1] and out[n] = the offset after the last element; returns n. Returns -1 for anything else (another
 * type, `*-1`, a malformed or truncated reply) and -2 when out has fewer than n+1 slots.
 */
export function arrayElementBounds(buf: Uint8Array, start: number, end: number, out: Int32Array): number {
  if (start >= end || (buf[start] !== 42 && buf[start] !== 126)) return -1;
  let i = start + 1;
  let n = 0;
  let digits = 0;
  while (i < end && buf[i] >= 48 && buf[i] <= 57) {
    n = n * 10 + (buf[i] - 48);
    digits++;
    i++;
  }
  if (digits === 0 || i + 1 >= end || buf[i] !== 13 || buf[i + 1] !== 10) return -1;
  if (out.length < n + 1) return -2;
  let p = i + 2;
  for (let k = 0; k < n; k++) {
    out[k] = p;
    const r = boundsScanner.scan(buf, p, end);
    if (r <= 0) {
      boundsScanner.reset();
      return -1;
    }
    p = r;
  }
  out[n] = p;
  return n;
}

/** ':123\r\n' -> 123 (also negative); NaN when buf[start, end) does not begin with a complete integer reply. */
export function readIntegerReply(buf: Uint8Array, start: number, end: number): number {
  if (start >= end || buf[start] !== 58) return NaN;
  let i = start + 1;
  let negative = false;
  if (i < end && buf[i] === 45) {
    negative = true;
    i++;
  }
  const first = i;
  let v = 0;
  while (i < end && buf[i] >= 48 && buf[i] <= 57) {
    v = v * 10 + (buf[i] - 48);
    i++;
  }
  if (i === first || i + 1 >= end || buf[i] !== 13 || buf[i + 1] !== 10) return NaN;
  return negative ? -v : v;
}
