// OutBuffer: an append-only byte staging area for one socket, flushed with one write per batch.
// Never allocates while its chunk can be reused; a chunk handed to a socket write that did not complete at once is abandoned to that write, never touched again.
// Never keeps a deferred range past settleDeferred(), which every I/O callback calls before its read buffer is reused.
import type { Socket } from 'node:net';

const CHUNK = 16 * 1024;
/** Writes larger than this skip the staging copy when the caller can hand over the bytes. */
export const DIRECT_WRITE_THRESHOLD = 64 * 1024;

/** A small per-worker free list of staging chunks, so idle connections hold none. */
const freeChunks: Buffer[] = [];
const MAX_FREE = 256;

function takeChunk(min: number): Buffer {
  if (min <= CHUNK) {
    const c = freeChunks.pop();
    if (c !== undefined) return c;
    return Buffer.allocUnsafeSlow(CHUNK);
  }
  return Buffer.allocUnsafeSlow(min);
}

function giveChunk(c: Buffer): void {
  if (c.length === CHUNK && freeChunks.length < MAX_FREE) freeChunks.push(c);
}

/**
 * The per-worker static read buffers. Their bytes stay untouched until the I/O callback that read them
 * ends, so a range of one is appended by reference and copied once at the end of the callback: a
 * pipelined batch of requests (or of one client's replies) that lies contiguous in the read buffer is
 * then copied in one call instead of one per request.
 */
let stable0: Uint8Array | null = null;
let stable1: Uint8Array | null = null;

export function registerReadBuffer(buf: Uint8Array): void {
  if (stable0 === null || stable0 === buf) stable0 = buf;
  else if (stable1 === null || stable1 === buf) stable1 = buf;
  else throw new Error('out-buffer: at most two static read buffers per worker');
}

/** OutBuffers holding a deferred range (emptied by count, as flush.ts's lists are). */
const deferred: (OutBuffer | null)[] = [];
let nDeferred = 0;

/** Copy every deferred range into its buffer. Called at the end of each I/O callback (flush.ts afterIo). */
export function settleDeferred(): void {
  for (let i = 0; i < nDeferred; i++) {
    const o = deferred[i] as OutBuffer;
    deferred[i] = null;
    o.listed = false;
    o.settle();
  }
  nDeferred = 0;
}

export class OutBuffer {
  buf: Buffer | null = null;
  /** Bytes copied into `buf`; a deferred range (below) follows them. */
  len = 0;
  private dSrc: Uint8Array | null = null;
  private dStart = 0;
  private dEnd = 0;
  listed = false;
  /**
   * TLS sockets (recycleWrites): a write completes only in its callback, after OpenSSL took the bytes, so each written
   * chunk waits here, oldest first, and goes back to the free list from the callback instead of being dropped to the GC.
   */
  private written: Buffer[] | null = null;
  private onWritten: (() => void) | null = null;

  /** Once per connection, for a TLS socket: written chunks are recycled by the write callback (plain sockets need none). */
  recycleWrites(): void {
    if (this.written !== null) return;
    const written: Buffer[] = [];
    this.written = written;
    this.onWritten = () => {
      const c = written.shift();
      if (c !== undefined) giveChunk(c);
    };
  }

  /** Bytes staged, the deferred range included. */
  get size(): number {
    return this.len + this.dEnd - this.dStart;
  }

  /** Copy the deferred range (if any) into the buffer. */
  settle(): void {
    const src = this.dSrc;
    if (src === null) return;
    this.dSrc = null;
    this.copyIn(src, this.dStart, this.dEnd);
    this.dStart = this.dEnd = 0;
  }

  /** Make room for n more bytes and return the buffer to write into at `this.len`. */
  reserve(n: number): Buffer {
    if (this.dSrc !== null) this.settle();
    let b = this.buf;
    if (b === null) {
      b = takeChunk(n);
      this.buf = b;
      this.len = 0;
      return b;
    }
    if (this.len + n > b.length) {
      let size = b.length * 2;
      while (size < this.len + n) size *= 2;
      const nb = Buffer.allocUnsafeSlow(size);
      b.copy(nb, 0, 0, this.len);
      giveChunk(b);
      this.buf = nb;
      b = nb;
    }
    return b;
  }

  append(src: Uint8Array, start: number, end: number): void {
    if (src === stable0 || src === stable1) {
      if (src === this.dSrc && start === this.dEnd) {
        this.dEnd = end;
        return;
      }
      if (this.dSrc !== null) this.settle();
      this.dSrc = src;
      this.dStart = start;
      this.dEnd = end;
      if (!this.listed) {
        this.listed = true;
        deferred[nDeferred++] = this;
      }
      return;
    }
    if (this.dSrc !== null) this.settle();
    this.copyIn(src, start, end);
  }

  private copyIn(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    const b = this.reserve(n);
    if (n < 64) {
      // Short copies are cheaper as a loop than through the native copy call.
      let o = this.len;
      for (let i = start; i < end; i++) b[o++] = src[i];
    } else {
      b.set(src.subarray(start, end), this.len);
    }
    this.len += n;
  }

  appendBuffer(src: Uint8Array): void {
    this.append(src, 0, src.length);
  }

  /**
   * Write what is staged to the socket. When the kernel took all of it at once the chunk is kept
   * (or returned to the free list when `release`); otherwise the chunk now belongs to the pending write.
   */
  flush(socket: Socket, release: boolean): void {
    if (this.dSrc !== null) this.settle();
    const b = this.buf;
    if (b === null || this.len === 0) {
      if (b !== null && release) this.drop();
      return;
    }
    if (socket.destroyed) {
      this.len = 0;
      return;
    }
    if (this.written !== null && this.onWritten !== null) {
      // Same order as below (write, then reset): a callback runs no sooner than the next tick, so the push comes first.
      socket.write(this.len === b.length ? b : b.subarray(0, this.len), this.onWritten);
      this.len = 0;
      this.written.push(b);
      this.buf = null;
      return;
    }
    socket.write(this.len === b.length ? b : b.subarray(0, this.len));
    this.len = 0;
    if (socket.writableLength === 0) {
      if (release) this.drop();
    } else {
      // The write is queued in the socket: those bytes must stay untouched until it drains.
      this.buf = null;
    }
  }

  /** Hand a large owned buffer straight to the socket after what is staged (keeps byte order). */
  writeOwned(socket: Socket, owned: Uint8Array): void {
    this.flush(socket, false);
    socket.write(owned);
  }

  drop(): void {
    this.dSrc = null;
    this.dStart = this.dEnd = 0;
    if (this.buf !== null) giveChunk(this.buf);
    this.buf = null;
    this.len = 0;
  }
}
