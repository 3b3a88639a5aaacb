// OutBuffer: an append-only byte staging area for one socket, flushed with one write per batch.
// Never allocates while its chunk can be reused; a chunk handed to a socket write that did not complete at once is abandoned to that write, never touched again.
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

export class OutBuffer {
  buf: Buffer | null = null;
  len = 0;

  /** Make room for n more bytes and return the buffer to write into at `this.len`. */
  reserve(n: number): Buffer {
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
    const b = this.buf;
    if (b === null || this.len === 0) {
      if (b !== null && release) this.drop();
      return;
    }
    if (socket.destroyed) {
      this.len = 0;
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
    if (this.buf !== null) giveChunk(this.buf);
    this.buf = null;
    this.len = 0;
  }
}
