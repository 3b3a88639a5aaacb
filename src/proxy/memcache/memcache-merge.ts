// Merges for split memcached requests: multi-key get/gets/gat/gats (values back in the client's key order, one END) and flush_all.
// The get merge streams: it writes to the client as keys become known (stream-merge.ts).
import type { Merge, ReplySink } from '../../io/index.ts';
import { valueBounds, valueKeyEnd, REPLY_END, REPLY_OK } from '../../protocol/memcache/index.ts';
import { StreamMerge, P_STREAMING, boundsFor } from '../routing/stream-merge.ts';

const EMPTY = Buffer.alloc(0);

function copyOf(buf: Uint8Array, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  b.set(buf.subarray(start, end));
  return b;
}

/** flush_all to every backend: OK when all said OK; nothing at all for noreply. */
export class MemcacheAllOkMerge implements Merge {
  private error: Buffer | null = null;
  private readonly silent: boolean;

  constructor(silent: boolean) {
    this.silent = silent;
  }

  part(_index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (isError && this.error === null) this.error = copyOf(buf, start, end);
  }

  finish(): Uint8Array {
    if (this.silent) return EMPTY;
    return this.error ?? REPLY_OK;
  }
}

/**
 * get/gets/gat/gats split per owner, streamed to the client in key order (each VALUE once every earlier key is known, then END).
 * A piece lists its hits in its own key order, misses left out: an item for a later key of that piece makes the earlier ones misses.
 */
export class MemcacheGetStreamMerge extends StreamMerge {
  /** The keys' bytes back to back: key i is keyBytes[keyOff[i], keyOff[i + 1]). */
  private keyBytes: Buffer = EMPTY;
  private readonly keyOff: Int32Array;

  constructor(pieces: number, keys: number) {
    super(pieces, keys);
    this.keyOff = new Int32Array(keys + 1);
  }

  /** Copy the keys (src[off[i], off[i] + len[i])) out of the client's read buffer. */
  setKeys(src: Uint8Array, off: Int32Array, len: Int32Array): void {
    const n = this.n;
    let total = 0;
    for (let i = 0; i < n; i++) total += len[i];
    const b = Buffer.allocUnsafe(total);
    let o = 0;
    for (let i = 0; i < n; i++) {
      this.keyOff[i] = o;
      b.set(src.subarray(off[i], off[i] + len[i]), o);
      o += len[i];
    }
    this.keyOff[n] = o;
    this.keyBytes = b;
  }

  protected header(): void {}
  protected writeEmpty(): void {}
  protected trailer(sink: ReplySink): void {
    sink.write(REPLY_END, 0, REPLY_END.length);
  }

  private keyIs(key: number, buf: Uint8Array, ks: number, ke: number): boolean {
    const s = this.keyOff[key];
    if (this.keyOff[key + 1] - s !== ke - ks) return false;
    const kb = this.keyBytes;
    for (let i = 0; i < ke - ks; i++) if (kb[s + i] !== buf[ks + i]) return false;
    return true;
  }

  protected onUnit(p: number, buf: Uint8Array, start: number, end: number): void {
    this.setPieceState(p, P_STREAMING);
    const ke = valueKeyEnd(buf, start, end);
    const asked = this.asked(p);
    let j = this.pos(p);
    if (ke < 0) return;
    while (j < asked && !this.keyIs(this.pieceKey(p, j), buf, start + 6, ke)) this.empty(this.pieceKey(p, j++));
    if (j === asked) {
      this.setPos(p, j);
      return;
    }
    this.resolve(this.pieceKey(p, j), buf, start, end);
    this.setPos(p, j + 1);
  }

  protected onWhole(p: number, buf: Uint8Array, start: number, end: number): void {
    const asked = this.asked(p);
    const out = boundsFor(asked + 1);
    // Items beyond the keys asked (malformed) match no key and are dropped.
    const n = valueBounds(buf, start, end, out);
    for (let k = 0; k < n; k++) this.onUnit(p, buf, out[k], out[k + 1]);
    this.onEnd(p);
  }

  protected onEnd(p: number): void {
    const asked = this.asked(p);
    for (let j = this.pos(p); j < asked; j++) this.empty(this.pieceKey(p, j));
    this.setPos(p, asked);
  }
}
