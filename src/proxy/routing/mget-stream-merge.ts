// MgetStreamMerge: RESP MGET split per owner, streamed to the client in key order (`*N` first, then each value once every earlier one
// was written). Never allocates per element it writes in order; a failing piece follows StreamMerge's rules (whole error, or nils).
import type { ReplySink } from '../../io/index.ts';
import { arrayElementBounds } from '../../protocol/resp/index.ts';
import { StreamMerge, P_FRESH, P_STREAMING, boundsFor } from './stream-merge.ts';

const NIL2 = Buffer.from('$-1\r\n');
const NIL3 = Buffer.from('_\r\n');
const NOT_ARRAY = Buffer.from('-ERR dynoproxy: a backend answered a split MGET with a non-array reply\r\n');
const WRONG_COUNT = Buffer.from('-ERR dynoproxy: a backend answered a split MGET with the wrong number of values\r\n');
/** `*N\r\n` is written from here (the sink copies it). */
const HEAD = Buffer.allocUnsafe(16);

export class MgetStreamMerge extends StreamMerge {
  protected header(sink: ReplySink): void {
    HEAD[0] = 0x2a;
    let n = this.n;
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    for (let i = digits; i >= 1; i--) {
      HEAD[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    HEAD[digits + 1] = 13;
    HEAD[digits + 2] = 10;
    sink.write(HEAD, 0, digits + 3);
  }

  protected writeEmpty(sink: ReplySink): void {
    const nil = this.request !== null && this.request.resp3 ? NIL3 : NIL2;
    // The header goes first even when the first key is an empty one.
    this.start(sink);
    sink.write(nil, 0, nil.length);
  }

  protected trailer(): void {}

  protected onUnit(p: number, buf: Uint8Array, start: number, end: number): void {
    if (this.pieceState(p) === P_FRESH) {
      // The `*N` header of the piece's reply.
      this.setPieceState(p, P_STREAMING);
      let n = 0;
      for (let i = start + 1; i < end && buf[i] >= 48 && buf[i] <= 57; i++) n = n * 10 + (buf[i] - 48);
      if (n !== this.asked(p)) this.failPiece(p, WRONG_COUNT, 0, WRONG_COUNT.length);
      return;
    }
    const j = this.pos(p);
    this.setPos(p, j + 1);
    this.resolve(this.pieceKey(p, j), buf, start, end);
  }

  protected onWhole(p: number, buf: Uint8Array, start: number, end: number): void {
    const asked = this.asked(p);
    const out = boundsFor(asked + 1);
    const n = arrayElementBounds(buf, start, end, out);
    if (n === -1) return this.failPiece(p, NOT_ARRAY, 0, NOT_ARRAY.length);
    if (n !== asked) return this.failPiece(p, WRONG_COUNT, 0, WRONG_COUNT.length);
    const base = this.holdWhole(buf, start, end);
    if (base >= 0) for (let j = 0; j < n; j++) this.holdAt(this.pieceKey(p, j), base + out[j], out[j + 1] - out[j]);
    else for (let j = 0; j < n; j++) this.resolve(this.pieceKey(p, j), buf, out[j], out[j + 1]);
    this.setPos(p, n);
  }

  protected onEnd(p: number): void {
    if (this.pos(p) !== this.asked(p)) this.failPiece(p, WRONG_COUNT, 0, WRONG_COUNT.length);
  }
}
