// MemcachePartScanner: finds the units of one retrieval reply as they arrive (each VALUE item, then END), for replies the proxy
// streams to its client piece by piece (a split multi-get). Pure and resumable like MemcacheReplyScanner; never allocates per unit.
import { SCAN_INCOMPLETE, SCAN_ERROR, valueLineDataLength, isErrorReply, DEFAULT_REPLY_LIMITS, type ReplyLimits } from './reply-scanner.ts';

const PH_LINE = 0;
const PH_DATA = 1;

/**
 * After each complete unit: `isUnit` (true: one VALUE item; false: a line that ends the reply — END, or an error line) and `last`
 * (the reply ends with this unit); `isError` for an error line. A reply that is only END or only an error line is one such unit.
 */
export class MemcachePartScanner {
  needed = 0;
  isError = false;
  isUnit = false;
  last = false;
  private phase = PH_LINE;
  /** Relative to the unit's first byte: how far the line was searched, and where the value's CR LF sits. */
  private searchRel = 0;
  private dataEndRel = 0;
  private readonly maxLine: number;
  private readonly maxValue: number;

  constructor(limits: ReplyLimits = DEFAULT_REPLY_LIMITS) {
    this.maxLine = limits.maxLineBytes;
    this.maxValue = limits.maxValueBytes;
  }

  reset(): void {
    this.phase = PH_LINE;
    this.searchRel = 0;
  }

  /** The end of the next unit at buf[pos, end), SCAN_INCOMPLETE or SCAN_ERROR (same resumption contract as the reply scanner). */
  scan(buf: Uint8Array, pos: number, end: number): number {
    if (this.phase === PH_LINE) {
      const bound = pos + this.maxLine + 2;
      const stop = end < bound ? end : bound;
      let i = pos + this.searchRel;
      while (i < stop && buf[i] !== 10) i++;
      if (i >= stop) {
        if (stop === bound) return this.fail();
        this.searchRel = i - pos;
        this.needed = end - pos + 1;
        return SCAN_INCOMPLETE;
      }
      this.searchRel = 0;
      if (i - 1 <= pos || buf[i - 1] !== 13) return this.fail();
      const le = i - 1;
      if (isErrorReply(buf, pos, le) || (le - pos === 3 && buf[pos] === 0x45 && buf[pos + 1] === 0x4e && buf[pos + 2] === 0x44)) {
        this.isError = buf[pos] !== 0x45 || buf[pos + 1] !== 0x4e;
        this.isUnit = false;
        this.last = true;
        return i + 1;
      }
      const len = valueLineDataLength(buf, pos, le);
      if (len < 0 || len > this.maxValue) return this.fail();
      this.dataEndRel = i + 1 - pos + len;
      this.phase = PH_DATA;
    }
    const after = this.dataEndRel + 2;
    if (end - pos < after) {
      this.needed = after;
      return SCAN_INCOMPLETE;
    }
    const d = pos + this.dataEndRel;
    if (buf[d] !== 13 || buf[d + 1] !== 10) return this.fail();
    this.phase = PH_LINE;
    this.isUnit = true;
    this.isError = false;
    this.last = false;
    return pos + after;
  }

  private fail(): number {
    this.reset();
    return SCAN_ERROR;
  }
}
