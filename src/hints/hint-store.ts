// Hint store: one keeper's (a data worker's or the cluster worker's) undelivered replica writes, an in-order queue per target node identity, bounded by count, bytes and age.
// Never sends and never touches a socket: hint-keeper.ts decides what becomes a hint and replays; this only keeps, orders and drops.

/** Where a queue's figures go (the target's peer stats block slots), and who hears of appends and removals (the hints file). */
export interface HintSink {
  /** Hints queued now for this target (a gauge: this worker's share). */
  queued(id: string, count: number): void;
  replayed(id: string, n: number): void;
  dropped(id: string, n: number, reason: string): void;
  /** A hint was appended (persistence appends its record). */
  appended(q: HintQueue, bytes: Uint8Array, forward: boolean, at: number): void;
  /** The oldest hint of `q` left the queue (delivered, dropped or expired): persistence records the skip. */
  removed(q: HintQueue): void;
  /** The queue became empty (persistence truncates its file). */
  emptied(q: HintQueue): void;
}

export interface HintLimits {
  /** Hints this worker keeps over every target; 0: hinted handoff off. */
  maxCount: number;
  maxBytes: number;
  /** ms. */
  maxAge: number;
}

/** One target's hints, oldest first: a growable ring of (bytes, remote-DC flag, time queued, sequence number). */
export class HintQueue {
  readonly id: string;
  readonly store: HintStore;
  /** The target's index in the current cluster view (-1: not in it); set by the runtime when the view changes. */
  node = -1;
  count = 0;
  bytes = 0;
  /** Replay state (routing/hints.ts): replies awaited for the batch on the wire, hints left in this tick's budget, a failure seen. */
  inFlight = 0;
  budget = 0;
  failed = false;
  private ring: (Uint8Array | null)[] = new Array<Uint8Array | null>(16).fill(null);
  private fwd: boolean[] = new Array<boolean>(16).fill(false);
  private at: number[] = new Array<number>(16).fill(0);
  private seqs: number[] = new Array<number>(16).fill(0);
  private head = 0;
  private nextSeq = 1;

  constructor(id: string, store: HintStore) {
    this.id = id;
    this.store = store;
  }

  /** The i-th oldest hint (0: the head). */
  bytesAt(i: number): Uint8Array {
    return this.ring[(this.head + i) & (this.ring.length - 1)] as Uint8Array;
  }

  forwardAt(i: number): boolean {
    return this.fwd[(this.head + i) & (this.ring.length - 1)];
  }

  timeAt(i: number): number {
    return this.at[(this.head + i) & (this.ring.length - 1)];
  }

  seqAt(i: number): number {
    return this.seqs[(this.head + i) & (this.ring.length - 1)];
  }

  /** Append (the caller checked the bounds); returns the hint's sequence number. */
  push(bytes: Uint8Array, forward: boolean, at: number): number {
    if (this.count === this.ring.length) this.grow();
    const i = (this.head + this.count) & (this.ring.length - 1);
    this.ring[i] = bytes;
    this.fwd[i] = forward;
    this.at[i] = at;
    const seq = this.nextSeq++;
    this.seqs[i] = seq;
    this.count++;
    this.bytes += bytes.length;
    return seq;
  }

  /** Remove the oldest; returns its size. */
  shift(): number {
    const i = this.head;
    const b = this.ring[i] as Uint8Array;
    this.ring[i] = null;
    this.head = (i + 1) & (this.ring.length - 1);
    this.count--;
    this.bytes -= b.length;
    return b.length;
  }

  private grow(): void {
    const n = this.ring.length;
    const ring = new Array<Uint8Array | null>(n * 2).fill(null);
    const fwd = new Array<boolean>(n * 2).fill(false);
    const at = new Array<number>(n * 2).fill(0);
    const seqs = new Array<number>(n * 2).fill(0);
    for (let k = 0; k < n; k++) {
      const j = (this.head + k) & (n - 1);
      ring[k] = this.ring[j];
      fwd[k] = this.fwd[j];
      at[k] = this.at[j];
      seqs[k] = this.seqs[j];
    }
    this.ring = ring;
    this.fwd = fwd;
    this.at = at;
    this.seqs = seqs;
    this.head = 0;
  }
}

/** Every target's queue in one worker, with the worker's share of the bounds. */
export class HintStore {
  readonly limits: HintLimits;
  readonly sink: HintSink;
  readonly queues = new Map<string, HintQueue>();
  /** Over every queue. */
  count = 0;
  bytes = 0;

  constructor(limits: HintLimits, sink: HintSink) {
    this.limits = limits;
    this.sink = sink;
  }

  queue(id: string): HintQueue {
    let q = this.queues.get(id);
    if (q === undefined) {
      q = new HintQueue(id, this);
      this.queues.set(id, q);
    }
    return q;
  }

  /**
   * Keep `bytes` (the store owns them from here) for `q`'s target. Past the count or bytes bound the oldest hints of that
   * target go first; a hint that cannot fit even then (the target holds none, or it alone exceeds the bytes bound) is dropped.
   * Returns whether it was kept.
   */
  add(q: HintQueue, bytes: Uint8Array, forward: boolean, now: number): boolean {
    const lim = this.limits;
    if (bytes.length > lim.maxBytes || lim.maxCount === 0) {
      this.sink.dropped(q.id, 1, 'larger than max_hint_bytes');
      return false;
    }
    let gone = 0;
    while ((this.count + 1 > lim.maxCount || this.bytes + bytes.length > lim.maxBytes) && q.count > 0) {
      this.removeHead(q);
      gone++;
    }
    if (gone > 0) this.sink.dropped(q.id, gone, 'max_hints or max_hint_bytes reached');
    if (this.count + 1 > lim.maxCount || this.bytes + bytes.length > lim.maxBytes) {
      if (gone > 0 && q.count === 0) this.sink.emptied(q);
      this.sink.dropped(q.id, 1, 'max_hints or max_hint_bytes reached (held by other targets)');
      this.sink.queued(q.id, q.count);
      return false;
    }
    q.push(bytes, forward, now);
    this.count++;
    this.bytes += bytes.length;
    this.sink.appended(q, bytes, forward, now);
    this.sink.queued(q.id, q.count);
    return true;
  }

  /** The head of `q` was delivered. */
  delivered(q: HintQueue): void {
    this.removeHead(q);
    this.sink.replayed(q.id, 1);
    this.sink.queued(q.id, q.count);
    if (q.count === 0) this.sink.emptied(q);
  }

  /** Drop every hint older than max_hint_age (from the heads: queues are in time order). Returns how many went. */
  expire(now: number): number {
    let total = 0;
    const oldest = now - this.limits.maxAge;
    for (const q of this.queues.values()) {
      let n = 0;
      while (q.count > 0 && q.timeAt(0) < oldest) {
        this.removeHead(q);
        n++;
      }
      if (n === 0) continue;
      total += n;
      this.sink.dropped(q.id, n, 'older than max_hint_age');
      this.sink.queued(q.id, q.count);
      if (q.count === 0) this.sink.emptied(q);
    }
    return total;
  }

  private removeHead(q: HintQueue): void {
    this.bytes -= q.shift();
    this.count--;
    this.sink.removed(q);
  }
}

/**
 * One keeper's share of the process's bounds (max_hints, max_hint_bytes, max_hint_age): `shares` keepers split them — the data
 * workers, plus the cluster worker where remote datacenters exist (it keeps the remote-DC writes it batches).
 */
export function hintLimits(cfg: { maxHints: number; maxHintBytes: number; maxHintAge: number }, shares: number): HintLimits {
  const n = Math.max(1, shares);
  return { maxCount: Math.ceil(cfg.maxHints / n), maxBytes: Math.ceil(cfg.maxHintBytes / n), maxAge: cfg.maxHintAge };
}
