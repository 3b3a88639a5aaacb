// StreamMerge: the merge of a split multi-key read (RESP MGET, memcached get/gets/gat/gats), written to the client in key order while
// the pieces' replies arrive. Never holds more than the stream window of out-of-order bytes without pausing the connection sending them.
//
// Backpressure: a piece that runs ahead of the key order (its bytes held) stops its connection past the window, until the pieces
// before it catch up. A client whose unsent bytes pass the window stops the connection sending to it only while no other request
// waits on that connection (backend.ts: they are shared, and nobody else may be held up by one client's pace); otherwise its unsent
// bytes fall under the client output-buffer limits (client_reply_hard_limit / soft), which disconnect it.
//
// The reply starts only once the keys known in order reach STREAM_START_BYTES (or every piece answered): an ordinary small reply is
// written whole, as before streaming. Errors: a piece that fails before the reply started makes the whole reply that error (as the
// whole-reply merges did, and twemproxy does). Once started it must stay well formed: a piece failing later answers its keys as nil
// (RESP) or as misses (memcached), and the request is counted as an error.
import { monotonicMs, UNIT_GO, UNIT_AHEAD, UNIT_SLOW, type Pausable, type ReplySink, type Request, type StreamingMerge } from '../../io/index.ts';
import { takeInts, takeBytes, giveInts, giveBytes } from './stream-arrays.ts';

export { boundsFor } from './stream-arrays.ts';

/** Out-of-order bytes held, or unsent bytes at the client, past which the sending connections stop reading (pool setting if lower). */
export const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
/** The reply is not started before this many bytes are known in key order (or all pieces answered). */
export const STREAM_START_BYTES = 64 * 1024;

const K_PENDING = 0;
/** Held in its own Buffer (after the start: freed as soon as it is written). */
const K_HELD = 1;
const K_EMPTY = 2;
const K_DONE = 3;
/** Held in the merge's arena (before the start: small replies cost no Buffer per key). */
const K_ARENA = 4;

/** Least first arena size: it comes from Node's shared 8 KiB slab (sized to the replies, so the slab lasts), grown by doubling. */
const ARENA_BYTES = 64;

export const P_FRESH = 0;
export const P_STREAMING = 1;
export const P_DONE = 2;
export const P_FAILED = 3;

const copyBytes = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

function copyOf(buf: Uint8Array, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  b.set(buf.subarray(start, end));
  return b;
}

export abstract class StreamMerge implements StreamingMerge {
  readonly streams = true;
  request: Request | null = null;
  protected readonly n: number;
  protected readonly pieces: number;
  /**
   * Every per-key and per-piece integer in one array (no typed-array view per request), at these offsets: keyPart[i] (the piece that
   * asked for key i), order (piece p's keys in the client's order: order[first[p] .. first[p + 1]), built on first use), spot[2i],
   * spot[2i + 1] (where key i sits in the arena), first[p], pos[p] (how many of piece p's keys are resolved).
   */
  private ints: Int32Array;
  private readonly oOrder: number;
  private readonly oSpot: number;
  private readonly oFirst: number;
  private readonly oPos: number;
  private ordered = false;
  /** keyState[i] at i, pieceState[p] at n + p. */
  private states: Uint8Array;
  /** The arrays went back to the pool (the merge is over: answered or cancelled); nothing reads them after. */
  private released = false;
  private held: (Buffer | null)[] | null = null;
  private heldBytes = 0;
  private arena: Buffer | null = null;
  private arenaLen = 0;
  private cursor = 0;
  private started = false;
  /** Before the start: keys [0, prefixEnd) are known, prefixBytes of them. */
  private prefixEnd = 0;
  private prefixBytes = 0;
  private cancelled = false;
  /** The whole reply: a piece failed before any byte went out. */
  private error: Buffer | null = null;
  /** Pieces that failed after the reply started (their keys answered empty). */
  failedAfterStart = 0;
  /** Connections paused because their piece ran ahead (held bytes past the window), and because the client is slow. */
  private pausedAhead: Pausable[] | null = null;
  private pausedSlow: Pausable[] | null = null;
  private lastMove = 0;
  /** The client's sink during one unit() or part() call (null: not at the head of its queue). */
  private cur: ReplySink | null = null;
  private window = STREAM_WINDOW_BYTES;

  constructor(pieces: number, keys: number) {
    this.n = keys;
    this.pieces = pieces;
    this.ints = takeInts(4 * keys + 2 * pieces + 1);
    this.oOrder = keys;
    this.oSpot = 2 * keys;
    this.oFirst = 4 * keys;
    this.oPos = 4 * keys + pieces + 1;
    this.states = takeBytes(keys + pieces);
  }

  /** keyPart[0, n): which piece asked for each key (groupByOwner's keyPiece). */
  setKeyParts(keyPiece: Int32Array): void {
    const ints = this.ints;
    for (let i = 0; i < this.n; i++) ints[i] = keyPiece[i];
  }

  protected pos(p: number): number {
    return this.ints[this.oPos + p];
  }

  protected setPos(p: number, v: number): void {
    this.ints[this.oPos + p] = v;
  }

  protected pieceState(p: number): number {
    return this.states[this.n + p];
  }

  protected setPieceState(p: number, v: number): void {
    this.states[this.n + p] = v;
  }

  /** What precedes the first key's bytes (RESP: the array header). */
  protected abstract header(sink: ReplySink): void;
  /** A key without value bytes (RESP: nil; memcached: nothing, a miss). */
  protected abstract writeEmpty(sink: ReplySink): void;
  /** What ends the reply (memcached: END). */
  protected abstract trailer(sink: ReplySink): void;
  /** One unit of piece p's streamed reply: resolve(), empty() or failPiece() the keys it answers. */
  protected abstract onUnit(p: number, buf: Uint8Array, start: number, end: number): void;
  /** Piece p's whole reply at once (not streamed: a peer's, or one that was not an array / had no item). */
  protected abstract onWhole(p: number, buf: Uint8Array, start: number, end: number): void;
  /** Piece p's streamed reply ended without error: the keys it did not answer. */
  protected abstract onEnd(p: number): void;

  private buildOrder(): void {
    this.ordered = true;
    const a = this.ints;
    const f = this.oFirst;
    const o = this.oOrder;
    const fill = this.oPos;
    for (let i = 0; i < this.n; i++) a[f + a[i] + 1]++;
    for (let p = 0; p < this.pieces; p++) a[f + p + 1] += a[f + p];
    for (let i = 0; i < this.n; i++) a[o + a[f + a[i]] + a[fill + a[i]]++] = i;
    for (let p = 0; p < this.pieces; p++) a[fill + p] = 0;
  }

  /** How many keys piece p asked for. */
  protected asked(p: number): number {
    if (!this.ordered) this.buildOrder();
    return this.ints[this.oFirst + p + 1] - this.ints[this.oFirst + p];
  }

  /** Piece p's j-th key (client index). */
  protected pieceKey(p: number, j: number): number {
    if (!this.ordered) this.buildOrder();
    return this.ints[this.oOrder + this.ints[this.oFirst + p] + j];
  }

  private sink(): ReplySink | null {
    const r = this.request;
    const c = r === null ? null : r.client;
    if (c === null || c.streamSink === undefined) return null;
    const s = c.streamSink(r as Request);
    if (s !== null) this.window = s.streamWindow < STREAM_WINDOW_BYTES ? s.streamWindow : STREAM_WINDOW_BYTES;
    return s;
  }

  protected start(sink: ReplySink): void {
    if (this.started) return;
    this.started = true;
    this.header(sink);
  }

  /** Key `key`'s bytes: written now when it is next in order and the client is at this request, else held (a copy). */
  protected resolve(key: number, buf: Uint8Array, start: number, end: number): void {
    const sink = this.cur;
    if (this.error !== null || this.cancelled || this.states[key] !== K_PENDING) return;
    if (this.started && key === this.cursor && sink !== null) {
      this.start(sink);
      sink.write(buf, start, end);
      this.states[key] = K_DONE;
      this.cursor++;
      return;
    }
    this.heldBytes += end - start;
    if (!this.started) return this.toArena(key, buf, start, end);
    const held = this.held ?? (this.held = new Array<Buffer | null>(this.n).fill(null));
    held[key] = copyOf(buf, start, end);
    this.states[key] = K_HELD;
  }

  /** Room for len more bytes in the arena (the first time sized for every piece alike); returns where they go. */
  private reserve(len: number): Buffer {
    let a = this.arena;
    if (a === null) return (this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, len * this.pieces)));
    if (this.arenaLen + len > a.length) {
      let size = a.length * 2;
      while (size < this.arenaLen + len) size *= 2;
      const na = Buffer.allocUnsafe(size);
      a.copy(na, 0, 0, this.arenaLen);
      a = this.arena = na;
    }
    return a;
  }

  private copyIn(buf: Uint8Array, start: number, end: number): number {
    const a = this.reserve(end - start);
    const at = this.arenaLen;
    if (end - start < 64) for (let i = start, o = at; i < end; i++, o++) a[o] = buf[i];
    else copyBytes.call(buf, a, at, start, end);
    this.arenaLen = at + end - start;
    return at;
  }

  private toArena(key: number, buf: Uint8Array, start: number, end: number): void {
    this.atArena(key, this.copyIn(buf, start, end), end - start);
  }

  private atArena(key: number, at: number, len: number): void {
    const spot = this.oSpot + key * 2;
    this.ints[spot] = at;
    this.ints[spot + 1] = len;
    this.states[key] = K_ARENA;
  }

  /**
   * A whole piece reply buf[start, end) before the start: copied once into the arena; returns the offset its bytes have there (its
   * elements are then held with holdAt), or -1 once the reply has started (resolve each element instead).
   */
  protected holdWhole(buf: Uint8Array, start: number, end: number): number {
    if (this.started || this.error !== null || this.cancelled) return -1;
    return this.copyIn(buf, start, end) - start;
  }

  /** Key `key`'s bytes are arena[at, at + len) (holdWhole's offset plus the element's own). */
  protected holdAt(key: number, at: number, len: number): void {
    if (this.states[key] !== K_PENDING) return;
    this.heldBytes += len;
    this.atArena(key, at, len);
  }

  private dropHeld(): void {
    this.held = null;
    this.heldBytes = 0;
    this.arena = null;
    this.arenaLen = 0;
  }

  protected empty(key: number): void {
    if (this.states[key] === K_PENDING) this.states[key] = K_EMPTY;
  }

  /** Piece p failed (its error reply in buf[start, end)). */
  protected failPiece(p: number, buf: Uint8Array, start: number, end: number): void {
    if (this.pieceState(p) === P_FAILED) return;
    this.setPieceState(p, P_FAILED);
    if (!this.started) {
      if (this.error === null) {
        this.error = copyOf(buf, start, end);
        this.dropHeld();
        this.resumeAll();
      }
      return;
    }
    this.failedAfterStart++;
    const asked = this.asked(p);
    for (let j = this.pos(p); j < asked; j++) this.empty(this.pieceKey(p, j));
    this.setPos(p, asked);
  }

  unit(index: number, buf: Uint8Array, start: number, end: number, from: Pausable): number {
    this.lastMove = monotonicMs();
    if (this.cancelled || this.pieceState(index) >= P_DONE) return UNIT_GO;
    const sink = (this.cur = this.sink());
    this.onUnit(index, buf, start, end);
    this.cur = null;
    if (this.error !== null || this.cancelled) return UNIT_GO;
    this.advance(sink);
    // The other pieces' held bytes this unit let out may free the connections that ran ahead.
    if (this.pausedAhead !== null) this.maybeResume();
    // Never the piece the next key in order waits on (its keys are the way out), whatever this unit did.
    if (this.heldBytes > this.window && this.cursor < this.n && this.ints[this.cursor] !== index) {
      (this.pausedAhead ??= []).push(from);
      return UNIT_AHEAD;
    }
    if (sink !== null && sink.socketUnsent > this.window) {
      (this.pausedSlow ??= []).push(from);
      return UNIT_SLOW;
    }
    return UNIT_GO;
  }

  part(index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    this.lastMove = monotonicMs();
    if (this.cancelled) return;
    const st = this.pieceState(index);
    const sink = (this.cur = this.sink());
    if (st !== P_FAILED) {
      if (isError) this.failPiece(index, buf, start, end);
      else if (st === P_FRESH) this.onWhole(index, buf, start, end);
      else this.onEnd(index);
      if (this.pieceState(index) !== P_FAILED) this.setPieceState(index, P_DONE);
    }
    this.cur = null;
    if (this.error === null) this.advance(sink);
    this.maybeResume();
  }

  finish(): Uint8Array {
    return EMPTY;
  }

  /** Write every key in order whose bytes are known (before the start: once they reach STREAM_START_BYTES, or when `force`). */
  private advance(sink: ReplySink | null, force = false): void {
    if (sink === null) return;
    const n = this.n;
    const ks = this.states;
    if (!this.started && !force) {
      let e = this.prefixEnd;
      let bytes = this.prefixBytes;
      const held = this.held;
      while (e < n && ks[e] !== K_PENDING) {
        if (ks[e] === K_ARENA) bytes += this.ints[this.oSpot + e * 2 + 1];
        else if (ks[e] === K_HELD) bytes += (held as (Buffer | null)[])[e]!.length;
        e++;
      }
      this.prefixEnd = e;
      this.prefixBytes = bytes;
      if (bytes < STREAM_START_BYTES) return;
    }
    let c = this.cursor;
    while (c < n) {
      const st = ks[c];
      if (st === K_PENDING) break;
      if (st === K_ARENA) {
        const off = this.ints[this.oSpot + c * 2];
        const len = this.ints[this.oSpot + c * 2 + 1];
        this.heldBytes -= len;
        this.start(sink);
        sink.write(this.arena as Buffer, off, off + len);
      } else if (st === K_HELD) {
        const held = this.held as (Buffer | null)[];
        const b = held[c] as Buffer;
        held[c] = null;
        this.heldBytes -= b.length;
        this.start(sink);
        sink.write(b, 0, b.length);
      } else if (st === K_EMPTY) this.writeEmpty(sink);
      ks[c] = K_DONE;
      c++;
    }
    this.cursor = c;
  }

  pump(sink: ReplySink, done: boolean): boolean {
    this.lastMove = monotonicMs();
    this.window = sink.streamWindow < STREAM_WINDOW_BYTES ? sink.streamWindow : STREAM_WINDOW_BYTES;
    if (this.error === null) this.advance(sink);
    if (!done) {
      this.maybeResume(sink);
      return false;
    }
    const error = this.error;
    if (error !== null) sink.write(error, 0, error.length);
    else {
      // Every piece answered: a key still unresolved (a piece answered short) is empty.
      for (let i = this.cursor; i < this.n; i++) this.empty(i);
      this.advance(sink, true);
      this.start(sink);
      this.trailer(sink);
    }
    this.dropHeld();
    this.resumeAll();
    this.release();
    return error !== null || this.failedAfterStart > 0;
  }

  /** The connections that ran ahead read again once the held bytes fell to half the window; those paused for the client once it took its bytes. */
  private maybeResume(sink: ReplySink | null = null): void {
    const half = this.window >> 1;
    if (this.pausedAhead !== null && this.heldBytes <= half) {
      const a = this.pausedAhead;
      this.pausedAhead = null;
      for (const c of a) c.resumeReading();
    }
    if (this.pausedSlow === null) return;
    const s = sink ?? this.sink();
    if (s === null || s.socketUnsent <= half) {
      const a = this.pausedSlow;
      this.pausedSlow = null;
      for (const c of a) c.resumeReading();
    }
  }

  private resumeAll(): void {
    const a = this.pausedAhead;
    const b = this.pausedSlow;
    this.pausedAhead = this.pausedSlow = null;
    if (a !== null) for (const c of a) c.resumeReading();
    if (b !== null) for (const c of b) c.resumeReading();
  }

  cancel(): void {
    this.cancelled = true;
    this.dropHeld();
    this.resumeAll();
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    // Whatever might still call in (nothing should) sees a cancelled merge, never a pooled array another merge now owns.
    this.cancelled = true;
    giveInts(this.ints);
    giveBytes(this.states);
    this.ints = EMPTY_INTS;
    this.states = EMPTY_BYTES;
  }

  stalledFor(now: number): number {
    return now - this.lastMove;
  }

  giveUp(): void {
    if (process.env['DYNOPROXY_STREAM_DEBUG'] === '1' && !this.released) {
      const pieces = Array.from({ length: this.pieces }, (_, p) => `${this.pieceState(p)}:${this.pos(p)}/${this.asked(p)}`).join(' ');
      process.stderr.write(`STREAM STALL cursor=${this.cursor}/${this.n} started=${this.started} held=${this.heldBytes} window=${this.window} ahead=${this.pausedAhead?.length ?? -1} slow=${this.pausedSlow?.length ?? -1} pieces=${pieces} keys=${Array.from(this.states.subarray(0, Math.min(12, this.n))).join('')}\n`);
    }
    const r = this.request;
    const c = r === null ? null : r.client;
    if (c !== null && c.streamStalled !== undefined) c.streamStalled();
    // A client already gone (or none that can be disconnected): the connections must not stay paused.
    this.cancel();
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY_INTS = new Int32Array(0);
const EMPTY_BYTES = new Uint8Array(0);
