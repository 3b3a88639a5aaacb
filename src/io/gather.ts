// GatherBuffer: collects the bytes of one frame that spans socket reads, so parsers see it contiguous.
// Never holds more than the frame being gathered; a large finished frame can be handed over instead of copied.

const MIN_GATHER = 16 * 1024;

export class GatherBuffer {
  buf: Buffer | null = null;
  len = 0;

  get active(): boolean {
    return this.len > 0;
  }

  /** Append bytes, growing to at least `want` total so a known-size frame is copied once. */
  append(src: Uint8Array, start: number, end: number, want: number): void {
    const n = end - start;
    const need = this.len + n;
    let b = this.buf;
    if (b === null || b.length < need) {
      let size = b === null ? MIN_GATHER : b.length * 2;
      if (size < need) size = need;
      // `want` comes from a declared length: trust it only so far, so a bare "$536870000" header costs little.
      if (size < want) size = Math.min(want, need + 1024 * 1024);
      const nb = Buffer.allocUnsafeSlow(size);
      if (b !== null && this.len > 0) b.copy(nb, 0, 0, this.len);
      this.buf = nb;
      b = nb;
    }
    b.set(src.subarray(start, end), this.len);
    this.len = need;
  }

  /** Drop the first `n` bytes (a completed frame), keeping any remainder at the start. */
  consume(n: number, keep = false): void {
    const b = this.buf;
    if (b === null) return;
    if (n >= this.len) {
      this.len = 0;
      // Do not keep a huge buffer alive for an idle connection (unless more frames like it follow at once).
      if (b.length > 4 * MIN_GATHER && !keep) this.buf = null;
      return;
    }
    b.copyWithin(0, n, this.len);
    this.len -= n;
  }

  /** Give the whole buffer away (its owner now writes it to a socket) and start afresh. */
  detach(): Buffer {
    const b = this.buf as Buffer;
    this.buf = null;
    this.len = 0;
    return b;
  }

  clear(): void {
    this.buf = null;
    this.len = 0;
  }
}
