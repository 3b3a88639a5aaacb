// RespPartScanner: finds the units of one array reply as they arrive (the `*N` header, then each element), for replies the proxy
// streams to its client piece by piece (a split MGET). Pure and resumable like RespReplyScanner; never allocates per unit.
import { RespReplyScanner, SCAN_INCOMPLETE, SCAN_ERROR } from './reply-scanner.ts';

/** Longest `*N\r\n` header accepted (a count has at most 10 digits). */
const MAX_HEADER = 14;

/**
 * After each complete unit: `isUnit` (true: a header or element of a streamed array; false: the whole reply, e.g. an error or a
 * non-array) and `last` (the reply ends with this unit). `count` is the header's element count.
 */
export class RespPartScanner {
  needed = 0;
  isError = false;
  isUnit = false;
  last = false;
  count = 0;
  private remaining = 0;
  private readonly inner = new RespReplyScanner();

  reset(): void {
    this.remaining = 0;
    this.inner.reset();
  }

  /** The end of the next unit at buf[pos, end), SCAN_INCOMPLETE or SCAN_ERROR (same resumption contract as RespReplyScanner). */
  scan(buf: Uint8Array, pos: number, end: number): number {
    if (this.remaining === 0 && buf[pos] === 0x2a) {
      let i = pos + 1;
      let n = 0;
      const stop = Math.min(end, pos + MAX_HEADER);
      while (i < stop && buf[i] >= 48 && buf[i] <= 57) n = n * 10 + (buf[i++] - 48);
      if (i + 1 >= end && i < pos + MAX_HEADER) {
        this.needed = end - pos + 1;
        return SCAN_INCOMPLETE;
      }
      if (buf[i] !== 13 || buf[i + 1] !== 10 || i === pos + 1) {
        // `*-1`, or anything unusual: the whole reply, as the plain scanner sees it.
        return this.whole(buf, pos, end);
      }
      this.isError = false;
      this.count = n;
      if (n === 0) {
        this.isUnit = false;
        this.last = true;
        return i + 2;
      }
      this.remaining = n;
      this.isUnit = true;
      this.last = false;
      return i + 2;
    }
    if (this.remaining === 0) return this.whole(buf, pos, end);
    const r = this.inner.scan(buf, pos, end);
    if (r === SCAN_INCOMPLETE) {
      this.needed = this.inner.needed;
      return r;
    }
    if (r === SCAN_ERROR) {
      this.remaining = 0;
      return r;
    }
    this.remaining--;
    this.isUnit = true;
    this.isError = false;
    this.last = this.remaining === 0;
    return r;
  }

  private whole(buf: Uint8Array, pos: number, end: number): number {
    const r = this.inner.scan(buf, pos, end);
    if (r === SCAN_INCOMPLETE) this.needed = this.inner.needed;
    if (r <= 0) return r;
    this.isUnit = false;
    this.last = true;
    this.isError = this.inner.isError;
    return r;
  }
}
