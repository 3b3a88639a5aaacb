// Streaming reply counters for the load generator: how many whole replies a chunk completed, RESP or memcached text.
// Never copies a payload and never keeps a reference to a chunk: state survives chunk boundaries, bytes do not.

export interface ReplyCounter {
  /** Error replies seen so far (top-level RESP `-`, memcached ERROR / CLIENT_ERROR / SERVER_ERROR). */
  errors: number;
  /** True once the stream stopped making sense; the connection should be dropped. */
  broken: boolean;
  /** Consumes buf[start, end) and returns how many top-level replies it completed. */
  feed(buf: Uint8Array, start: number, end: number): number;
}

const CR = 13;
const LF = 10;

const S_TYPE = 0;
const S_NUM = 1;
const S_NUM_LF = 2;
const S_LINE = 3;
const S_SKIP = 4;

const K_BULK = 1;
const K_AGGREGATE = 2;
const K_MAP = 3;

/** RESP2 and RESP3 replies; an aggregate (with its nesting) counts as one reply. */
export class RespReplyCounter implements ReplyCounter {
  errors = 0;
  broken = false;
  private state = S_TYPE;
  private kind = 0;
  private num = 0;
  private negative = false;
  private skip = 0;
  private depth = 0;
  /** Values still expected at each open aggregate. */
  private readonly pending = new Int32Array(32);

  feed(buf: Uint8Array, start: number, end: number): number {
    let replies = 0;
    let p = start;
    while (p < end) {
      switch (this.state) {
        case S_TYPE: {
          const t = buf[p++]!;
          if (t === 0x24 || t === 0x3d || t === 0x21) {
            // $ bulk, = verbatim, ! blob error
            this.kind = K_BULK;
            if (t === 0x21 && this.depth === 0) this.errors++;
            this.beginNumber();
          } else if (t === 0x2a || t === 0x7e || t === 0x3e) {
            // * array, ~ set, > push
            this.kind = K_AGGREGATE;
            this.beginNumber();
          } else if (t === 0x25 || t === 0x7c) {
            // % map, | attribute (its pairs precede the reply they decorate; counted as values here)
            this.kind = K_MAP;
            this.beginNumber();
          } else if (t === 0x2b || t === 0x2d || t === 0x3a || t === 0x5f || t === 0x23 || t === 0x2c || t === 0x28) {
            if (t === 0x2d && this.depth === 0) this.errors++;
            this.state = S_LINE;
          } else {
            this.broken = true;
            return replies;
          }
          break;
        }
        case S_NUM: {
          const c = buf[p++]!;
          if (c >= 0x30 && c <= 0x39) this.num = this.num * 10 + (c - 0x30);
          else if (c === 0x2d) this.negative = true;
          else if (c === CR) this.state = S_NUM_LF;
          else {
            this.broken = true;
            return replies;
          }
          break;
        }
        case S_NUM_LF: {
          if (buf[p++] !== LF) {
            this.broken = true;
            return replies;
          }
          const n = this.negative ? -this.num : this.num;
          if (this.kind === K_BULK) {
            if (n < 0) replies += this.valueDone();
            else {
              this.skip = n + 2;
              this.state = S_SKIP;
            }
          } else {
            const count = this.kind === K_MAP ? n * 2 : n;
            if (count <= 0) replies += this.valueDone();
            else if (this.depth >= this.pending.length) {
              this.broken = true;
              return replies;
            } else {
              this.pending[this.depth++] = count;
              this.state = S_TYPE;
            }
          }
          break;
        }
        case S_LINE: {
          const lf = indexOfLf(buf, p, end);
          if (lf < 0) {
            p = end;
          } else {
            p = lf + 1;
            replies += this.valueDone();
          }
          break;
        }
        default: {
          const n = Math.min(this.skip, end - p);
          this.skip -= n;
          p += n;
          if (this.skip === 0) replies += this.valueDone();
        }
      }
    }
    return replies;
  }

  private beginNumber(): void {
    this.num = 0;
    this.negative = false;
    this.state = S_NUM;
  }

  /** A value ended: close the aggregates it completes; 1 if that finished a top-level reply. */
  private valueDone(): number {
    this.state = S_TYPE;
    while (this.depth > 0) {
      if (--this.pending[this.depth - 1]! > 0) return 0;
      this.depth--;
    }
    return 1;
  }
}

function indexOfLf(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === LF) return i;
  return -1;
}

const LINE_MAX = 512;
const M_LINE = 0;
const M_DATA = 1;

function startsWith(line: Uint8Array, len: number, word: string): boolean {
  if (len < word.length) return false;
  for (let i = 0; i < word.length; i++) if (line[i] !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * memcached text replies: a retrieval reply is every `VALUE ...` block up to `END`; any other line
 * (STORED, NOT_FOUND, DELETED, a number, an error) is a reply by itself.
 */
export class MemcacheReplyCounter implements ReplyCounter {
  errors = 0;
  broken = false;
  private state = M_LINE;
  private readonly line = new Uint8Array(LINE_MAX);
  private lineLen = 0;
  private skip = 0;

  feed(buf: Uint8Array, start: number, end: number): number {
    let replies = 0;
    let p = start;
    while (p < end) {
      if (this.state === M_DATA) {
        const n = Math.min(this.skip, end - p);
        this.skip -= n;
        p += n;
        if (this.skip === 0) this.state = M_LINE;
        continue;
      }
      const c = buf[p++]!;
      if (c !== LF) {
        if (this.lineLen < LINE_MAX) this.line[this.lineLen] = c;
        this.lineLen++;
        continue;
      }
      const len = this.lineLen;
      this.lineLen = 0;
      if (len > LINE_MAX) {
        this.broken = true;
        return replies;
      }
      if (startsWith(this.line, len, 'VALUE ')) {
        const bytes = this.valueLength(len);
        if (bytes < 0) {
          this.broken = true;
          return replies;
        }
        this.skip = bytes + 2;
        this.state = M_DATA;
        continue;
      }
      if (startsWith(this.line, len, 'ERROR') || startsWith(this.line, len, 'CLIENT_ERROR') || startsWith(this.line, len, 'SERVER_ERROR')) {
        this.errors++;
      }
      replies++;
    }
    return replies;
  }

  /** The <bytes> field of `VALUE <key> <flags> <bytes> [<cas>]\r`. */
  private valueLength(len: number): number {
    let field = 0;
    let n = -1;
    for (let i = 0; i < len; i++) {
      const c = this.line[i]!;
      if (c === 0x20 || c === CR) {
        if (field === 3 && n >= 0) return n;
        if (i > 0 && this.line[i - 1] !== 0x20) field++;
        continue;
      }
      if (field === 3) {
        if (c < 0x30 || c > 0x39) return -1;
        n = (n < 0 ? 0 : n * 10) + (c - 0x30);
      }
    }
    return field === 3 ? n : -1;
  }
}
