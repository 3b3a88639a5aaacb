// Mirror: while a range is copied (warm-up, join, leave), the keys the source's datastore reports written (its invalidation feed,
// DYNOPROXY.INVALIDATIONS, long-polled on a dedicated link) are read again at the source (PTTL + DUMP, in order) and applied at the
// receiver with RESTORE ... REPLACE, or DEL when they are gone. So a write the receiver could not apply right (an INCR, HSET, RPUSH of a
// key its copy had not reached yet creates the key from nothing, and the copy's never-replacing RESTORE then keeps that) ends with the
// source's value, and a DEL during the copy is not undone by a copy step that read the key before it: keys the mirror deleted are
// remembered (tombstones) and the copy leaves them out.
// Ordering: notifications come after the write ran at the source; reads are made one batch after another on one connection, and the
// applies are handed to the receiver's one connection in the same order, with the copy's own restores on that connection too: what the
// receiver ends with for a key is what the source held at its last read, and every write at the source is followed by such a read.
// The flip (the receiver serves the range, its peers turn to it one by one): a peer that turned sends a write to the receiver and,
// as a shadow, to the source; when the shadow lands first, a read-back that already holds it would be followed by the same write
// arriving at the receiver directly (an INCR applied twice). From the flip on (setLag) a key is read again only once it was quiet for
// a moment (LAG after it was last heard, at most 4 x LAG after it was first heard), long enough for the direct write to land first.
// Never unbounded: a source whose feed moved past the mirror (it fell behind), lost its link or was flushed fails the mirror, and with
// it the copy (which starts again); so does more than MAX_PENDING keys waiting.
import { F_NONE } from '../protocol/failure/index.ts';
import { encodeRepairRequest, decodeFetchReply, MAX_REPAIR_BATCH, type FetchEntry } from '../protocol/resp/index.ts';
import { acquireRequest, afterIo, K_CLIENT, type BackendServer, type ClientSession, type Request } from '../io/index.ts';
import { PeerCall, type Item } from './peer-call.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** The peer command of a node's invalidation feed (proxy/resp/tracking-peers.ts serves it). */
const INVALIDATIONS = 'DYNOPROXY.INVALIDATIONS';
/** How long a key must be quiet before the mirror reads it again once the receiver serves the range (setLag). */
export const FLIP_LAG_MS = 250;
/** Keys read again per batch at the source. */
const BATCH = 256;
/** Bytes one batch's reply may carry; a key larger than that is read alone, with SOLO_BYTES. */
const BATCH_BYTES = 16 * 1024 * 1024;
/** Keys waiting to be read again (past it the mirror fails: the copy starts over). */
const MAX_PENDING = 1_000_000;
/** Tombstones kept while a copy runs (past it the mirror fails too). */
const MAX_TOMBSTONES = 1_000_000;

export interface MirrorSource {
  /** A link of the mirror's own to the source (a parked poll must not hold other replies back); the mirror closes it. */
  pollLink: BackendServer;
  /** PTTL + DUMP of keys at the source, in the order asked (-2: gone, -3: larger than maxBytes); a string on failure. */
  fetch(keys: Buffer[], maxBytes: number): Promise<FetchEntry[] | string>;
}

export interface MirrorSink {
  /** Hand the keys' values to the receiver (pttl -2: delete) on its one ordered connection; resolves once applied. */
  apply(keys: Buffer[], entries: FetchEntry[]): Promise<void>;
}

export interface MirrorFigures {
  /** Keys the feed reported in the ranges. */
  heard: number;
  /** Keys written at the receiver with the source's value. */
  replaced: number;
  /** Keys deleted at the receiver (gone at the source). */
  deleted: number;
}

/** One request of the mirror's on a link: the flat-array reply, or the failure's text. */
function call(link: BackendServer, bytes: Buffer): Promise<Item[] | string> {
  const session = new PeerCall();
  const req = acquireRequest(K_CLIENT);
  req.client = session;
  link.send(req, bytes, 0, bytes.length);
  afterIo();
  return session.done;
}

function pollCommand(since: number): Buffer {
  const s = String(since);
  return Buffer.from(`*2\r\n$${INVALIDATIONS.length}\r\n${INVALIDATIONS}\r\n$${s.length}\r\n${s}\r\n`, 'latin1');
}

/** DYNOPROXY.REPAIR FETCH on a link, decoded. */
export async function fetchOn(link: BackendServer, keys: Buffer[], maxBytes: number): Promise<FetchEntry[] | string> {
  const r = await call(link, encodeRepairRequest({ op: 'fetch', maxBytes, keys }));
  if (typeof r === 'string') return r;
  const entries = decodeFetchReply(r);
  if (typeof entries !== 'string' && entries.length !== keys.length) return 'short fetch reply';
  return entries;
}

export class Mirror {
  readonly figures: MirrorFigures = { heard: 0, replaced: 0, deleted: 0 };
  /** Why the mirror stopped on its own (the copy it guards must start over), or null while it runs. */
  failed: string | null = null;
  private readonly source: MirrorSource;
  private readonly sink: MirrorSink;
  private readonly wants: (key: Buffer) => boolean;
  private readonly soloBytes: number;
  /** Keys heard and not read again yet (latin1, as the feed gives them): when first and last heard (ms). */
  private pending = new Map<string, [number, number]>();
  /** From the flip on: how long a key must be quiet before it is read again (0: at once). */
  private lagMs = 0;
  private readonly tombstones = new Set<string>();
  private stopped = false;
  private since = -1;
  private working: Promise<void> | null = null;
  private last: Promise<void> = Promise.resolve();

  /** `wants`: whether a key is one the copy moves; `soloBytes`: the largest key it reads (alone). */
  constructor(source: MirrorSource, sink: MirrorSink, wants: (key: Buffer) => boolean, soloBytes: number) {
    this.source = source;
    this.sink = sink;
    this.wants = wants;
    this.soloBytes = Math.max(BATCH_BYTES, soloBytes);
  }

  /** The feed's position taken (every write after it will be heard): true; false when the source did not answer. */
  async start(): Promise<boolean> {
    const r = await call(this.source.pollLink, pollCommand(-1));
    if (typeof r === 'string' || typeof r[0] !== 'number') {
      this.fail(typeof r === 'string' ? r : 'malformed feed answer');
      return false;
    }
    this.since = r[0];
    void this.poll();
    return true;
  }

  /**
   * The receiver serves the range now (its peers turn to it): a key is read again only once it was quiet for `ms` (at most 4 x `ms`
   * after it was first heard), so that a write a turned peer sent both here and, as a shadow, to the source lands here before the
   * read-back that holds it.
   */
  setLag(ms: number): void {
    this.lagMs = Math.max(0, ms);
  }

  /**
   * Keys to read again although the feed did not report them (written at the receiver before the mirror started: a warm-up's replica
   * writes that reached its emptied datastore first, whose source writes came before the feed's position was taken).
   */
  seed(keys: readonly Buffer[]): void {
    const now = Date.now();
    for (const k of keys) {
      if (!this.wants(k)) continue;
      const s = k.toString('latin1');
      if (!this.pending.has(s)) this.pending.set(s, [now, now]);
    }
    if (this.pending.size > MAX_PENDING) return this.fail(`more than ${MAX_PENDING} keys waiting to be read again`);
    if (this.pending.size > 0 && this.working === null && !this.stopped) this.working = this.work();
  }

  /** A key the mirror deleted at the receiver while the copy ran: the copy must not restore it from an older read. */
  deleted(key: Buffer): boolean {
    return this.tombstones.size > 0 && this.tombstones.has(key.toString('latin1'));
  }

  /** Stop hearing; resolves once what was heard is applied (or the mirror failed). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // A parked poll on the closed link is never answered: the poll loop is not waited for, what it handed over is.
    this.source.pollLink.close();
    while (this.working !== null) await this.working;
    await this.last;
  }

  /** Everything heard so far applied (the copy is done and the caller waits for the tail). */
  async drained(): Promise<void> {
    while (this.working !== null) await this.working;
    await this.last;
  }

  private fail(why: string): void {
    if (this.failed === null) this.failed = why;
    if (!this.stopped) {
      this.stopped = true;
      this.source.pollLink.close();
    }
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const r = await call(this.source.pollLink, pollCommand(this.since));
      if (this.stopped) return;
      if (typeof r === 'string') return this.fail(`feed: ${r}`);
      const seq = r[0];
      if (typeof seq !== 'number') return this.fail('feed: malformed answer');
      // `*2 :seq :1`: the feed moved past this position, the datastore was flushed, or the source lost its datastore link.
      if (r.length === 2 && typeof r[1] === 'number') return this.fail('feed: the source could not tell every key written (fell behind, flushed, or its datastore link was lost)');
      const now = Date.now();
      for (let i = 1; i < r.length; i++) {
        const k = r[i];
        if (typeof k === 'number' || !this.wants(k)) continue;
        this.figures.heard++;
        const s = k.toString('latin1');
        const p = this.pending.get(s);
        if (p === undefined) this.pending.set(s, [now, now]);
        else p[1] = now;
      }
      this.since = seq;
      if (this.pending.size > MAX_PENDING) return this.fail(`more than ${MAX_PENDING} keys waiting to be read again`);
      if (this.pending.size > 0 && this.working === null) this.working = this.work();
    }
  }

  /** Read again and apply, batch after batch, until nothing waits. */
  private async work(): Promise<void> {
    try {
      while (this.pending.size > 0 && this.failed === null) {
        const keys: Buffer[] = [];
        const lag = this.lagMs;
        const now = Date.now();
        let next = Infinity;
        for (const [k, heard] of this.pending) {
          if (lag > 0) {
            const at = Math.min(heard[1] + lag, heard[0] + 4 * lag);
            if (at > now) {
              next = Math.min(next, at);
              continue;
            }
          }
          this.pending.delete(k);
          keys.push(Buffer.from(k, 'latin1'));
          if (keys.length >= Math.min(BATCH, MAX_REPAIR_BATCH)) break;
        }
        if (keys.length === 0) {
          // Every key waiting was written a moment ago: read them once they were quiet.
          await sleep(Math.max(1, Math.min(next - now, lag)));
          continue;
        }
        const entries = await this.source.fetch(keys, BATCH_BYTES);
        if (typeof entries === 'string') return this.fail(`reading keys again at the source: ${entries}`);
        // Too large for the batch: each read again alone (in order: nothing else is read meanwhile).
        for (let i = 0; i < entries.length; i++) {
          if (entries[i].pttl !== -3) continue;
          const one = await this.source.fetch([keys[i]], this.soloBytes);
          if (typeof one === 'string' || one[0].pttl === -3) return this.fail(`reading a key again at the source: ${typeof one === 'string' ? one : 'too large'}`);
          entries[i] = one[0];
        }
        for (let i = 0; i < entries.length; i++) {
          const gone = entries[i].pttl === -2 || entries[i].pttl === 0;
          if (gone) {
            entries[i].pttl = -2;
            this.tombstones.add(keys[i].toString('latin1'));
            this.figures.deleted++;
          } else {
            this.tombstones.delete(keys[i].toString('latin1'));
            this.figures.replaced++;
          }
        }
        if (this.tombstones.size > MAX_TOMBSTONES) return this.fail(`more than ${MAX_TOMBSTONES} keys deleted during the copy`);
        // Handed to the receiver's connection now (in this order); waited for before the next batch (backpressure).
        this.last = this.sink.apply(keys, entries).catch((err: unknown) => this.fail(`applying at the receiver: ${err instanceof Error ? err.message : String(err)}`));
        await this.last;
      }
    } finally {
      this.working = null;
    }
  }
}

/** A session that resolves each reply as written or not (RESTORE ... REPLACE / DEL sent through a peer link, leave.ts). */
export class ApplyCall implements ClientSession {
  closed = false;
  pending = 0;
  failed = '';
  private resolve: () => void = () => {};
  readonly done: Promise<void>;
  constructor() {
    this.done = new Promise((r) => (this.resolve = r));
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (req.failure !== F_NONE || buf[start] === 0x2d) this.failed = Buffer.from(buf.subarray(start, Math.min(end, start + 200))).toString('utf8').trim();
    if (--this.pending === 0) this.resolve();
  }
  requestFinished(): void {}
}
