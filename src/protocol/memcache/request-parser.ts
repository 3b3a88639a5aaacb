// MemcacheRequestParser: incremental, zero-copy, resumable framing of memcached text and meta requests.
// Pure: no I/O, and never allocates per frame (key arrays grow by doubling only); it never reads past `end`.
//
// parse(buf, pos, end) returns one of:
//   > 0               the end offset of one frame starting at frameStart (>= pos). Either a request (cmd is a
//                     CMD_* other than CMD_INVALID), or a bad request memcached answers and then reads on after:
//                     cmd = CMD_INVALID, errorKind ERR_ERROR / ERR_CLIENT / ERR_SERVER, errorMessage the whole
//                     reply line (requestErrorReply(errorMessage) gives it as bytes), `noreply` set when memcached
//                     would stay silent. The frame covers the command line, plus the data block for a bad data
//                     chunk ("CLIENT_ERROR bad data chunk"). For errors after which memcached discards a data block
//                     unread (object too large, ms flag errors) the frame is only the line, and the parser itself
//                     discards the next `swallowing` bytes in later calls, so the proxy never buffers them.
//   PARSE_INCOMPLETE  more bytes are needed. Bytes before frameStart were consumed (a discarded data block);
//                     [frameStart, end) is a partial frame to present again, at the start of the next call's
//                     range, with more bytes after it. `needed` is a lower bound of its total length (exact once
//                     a data block's length is known), so the caller can size its gather buffer and wait.
//   PARSE_ERROR       close the connection without a reply, as memcached does: errorKind ERR_CLOSE, errorMessage
//                     says why (binary protocol, line too long, HTTP request). Call reset() to parse anything else.
//
// Deliberate differences from memcached 1.6.18 (see test/unit/protocol/memcache/memcached-compare.test.ts):
// - memcached closes a connection when it has buffered more than 2048 bytes without a newline (get/gets excepted),
//   so whether a longer line survives depends on how the bytes arrived. We judge the line itself: a line longer
//   than maxLineBytes is refused as if it had arrived in small pieces, the worst case.
// - get/gets lines are bounded (maxLineBytes + maxKeys * (maxKeyLength + 1)); memcached grows its buffer freely.
// - A binary-protocol request (first byte 0x80 on a connection) closes the connection: we speak text only.
// - The too-large limit is maxValueBytes of data; memcached's counts its item header and key too, so between its
//   limit and ours memcached answers, and both discard the same bytes.
// - When memcached refuses a multi-get for a long key it also drops the unsent replies of the requests before it
//   in the same read; we answer every request.
import { ERR_CLIENT, ERR_CLOSE } from './command-ids.ts';
import { CLOSE_BINARY, CLOSE_LINE_TOO_LONG, MSG_BAD_DATA_CHUNK } from './errors.ts';
import { classifyLine } from './command-line.ts';
import {
  DEFAULT_MEMCACHE_LIMITS, LINE_CLOSE, LINE_DATA, LINE_SWALLOW, MemcacheRequest, type MemcacheLimits,
} from './request-fields.ts';

export const PARSE_INCOMPLETE = 0;
export const PARSE_ERROR = -1;

const ST_IDLE = 0; // at a frame boundary
const ST_LINE = 1; // inside a command line; `cursor` = bytes already searched for its "\n"
const ST_DATA = 2; // the line is classified; waiting for its data block (fields are kept relative to the frame)

const BINARY_MAGIC = 0x80;
// memcached lets a line run past 2048 bytes only if it starts with "get " or "gets " after at most 100 spaces.
const MAX_LEADING_SPACES = 100;

export class MemcacheRequestParser extends MemcacheRequest {
  /** Bytes of a refused data block still to be discarded by the next calls. */
  swallowing = 0;

  private state = ST_IDLE;
  private cursor = 0;
  /** The partial line is a get/gets line, allowed up to getLineLimit. */
  private longGet = false;
  private readonly getLineLimit: number;
  /** Nothing has been read on this connection yet (memcached picks the protocol from the first byte). */
  private fresh = true;

  constructor(limits: MemcacheLimits = DEFAULT_MEMCACHE_LIMITS) {
    super(limits);
    this.getLineLimit = Math.min(limits.maxLineBytes + limits.maxKeys * (limits.maxKeyLength + 1), 0x7fffffff);
  }

  /** Drops any partial frame and any data block being discarded. The connection's first byte stays seen. */
  reset(): void {
    this.state = ST_IDLE;
    this.cursor = 0;
    this.longGet = false;
    this.swallowing = 0;
  }

  parse(buf: Uint8Array, pos: number, end: number): number {
    let p = pos;
    if (this.swallowing > 0) {
      const n = Math.min(this.swallowing, end - p);
      this.swallowing -= n;
      p += n;
      if (this.swallowing > 0) return this.incomplete(end, 1);
    } else if (this.state !== ST_IDLE) {
      // Fewer bytes than we had already seen: the caller broke the contract, so start the frame over.
      if (this.cursor > end - pos) this.reset();
      else if (this.state === ST_LINE) return this.parseLine(buf, pos, end);
      else return this.finishData(buf, pos, end);
    }
    if (p >= end) return this.incomplete(p, 1);
    if (this.fresh) {
      this.fresh = false;
      if (buf[p] === BINARY_MAGIC) return this.closeWith(CLOSE_BINARY);
    }
    this.cursor = 0;
    this.longGet = false;
    return this.parseLine(buf, p, end);
  }

  /** The command line starting at base: find its "\n", classify it, and go on to its data block if any. */
  private parseLine(buf: Uint8Array, base: number, end: number): number {
    let limit = this.longGet ? this.getLineLimit : this.maxLineBytes;
    let i = base + this.cursor;
    let nl = -1;
    for (;;) {
      // The "\n" may sit at most `limit` bytes after the line's first byte.
      const stop = Math.min(end, base + limit + 1);
      while (i < stop) {
        if (buf[i] === 10) break;
        i++;
      }
      if (i < stop) {
        nl = i;
        break;
      }
      if (stop === end && end - base <= limit) {
        this.state = ST_LINE;
        this.cursor = i - base;
        return this.incomplete(base, end - base + 1);
      }
      if (this.longGet || !this.startsGet(buf, base, end)) return this.closeWith(CLOSE_LINE_TOO_LONG);
      this.longGet = true;
      limit = this.getLineLimit;
    }
    this.state = ST_IDLE;
    this.cursor = 0;
    this.longGet = false;
    // memcached drops the "\r" before the "\n" only when the line has another byte.
    const contentEnd = nl - base > 1 && buf[nl - 1] === 13 ? nl - 1 : nl;
    const lineEnd = nl + 1;
    const what = classifyLine(this, buf, base, contentEnd);
    this.frameStart = base;
    this.lineEnd = lineEnd;
    this.dataStart = lineEnd;
    if (what === LINE_DATA) return this.readData(buf, base, end);
    if (what === LINE_SWALLOW) this.swallowing = this.swallowBytes;
    else if (what === LINE_CLOSE) return this.closeWith(this.errorMessage);
    return lineEnd;
  }

  /** Whether the line at base starts with "get " or "gets " after at most 100 spaces (its first bytes are here). */
  private startsGet(buf: Uint8Array, base: number, end: number): boolean {
    let i = base;
    while (i < end && buf[i] === 32) i++;
    if (i - base > MAX_LEADING_SPACES || end - i < 4) return false;
    if (buf[i] !== 103 || buf[i + 1] !== 101 || buf[i + 2] !== 116) return false;
    if (buf[i + 3] === 32) return true;
    return end - i >= 5 && buf[i + 3] === 115 && buf[i + 4] === 32;
  }

  /** The line at base is classified and wants dataLen bytes + CRLF after lineEnd. */
  private readData(buf: Uint8Array, base: number, end: number): number {
    const frameEnd = this.lineEnd + this.dataLen + 2;
    if (frameEnd > end) {
      this.state = ST_DATA;
      this.cursor = this.lineEnd - base;
      this.rebase(-base);
      return this.incomplete(base, frameEnd - base);
    }
    return this.checkTerminator(buf, frameEnd);
  }

  /** Resuming in ST_DATA: the frame was presented again at base. */
  private finishData(buf: Uint8Array, base: number, end: number): number {
    const frameEnd = base + this.lineEnd + this.dataLen + 2;
    if (frameEnd > end) return this.incomplete(base, frameEnd - base);
    this.rebase(base);
    this.frameStart = base;
    return this.checkTerminator(buf, frameEnd);
  }

  private checkTerminator(buf: Uint8Array, frameEnd: number): number {
    this.state = ST_IDLE;
    this.cursor = 0;
    // memcached reads exactly dataLen + 2 bytes and insists only that the last two are CR LF.
    // noreply (never set for ms) silences this error too.
    if (buf[frameEnd - 2] !== 13 || buf[frameEnd - 1] !== 10) this.fail(ERR_CLIENT, MSG_BAD_DATA_CHUNK);
    return frameEnd;
  }

  private incomplete(frameStart: number, needed: number): number {
    this.frameStart = frameStart;
    this.needed = needed;
    return PARSE_INCOMPLETE;
  }

  private closeWith(message: string): number {
    this.reset();
    this.fail(ERR_CLOSE, message);
    return PARSE_ERROR;
  }
}
