// CLIENT TRACKING across a cluster rack: every node keeps the keys its own datastore reports written (its BCAST invalidation link,
// resp-tracking.ts) in a bounded feed, and serves them to the other nodes of its rack with the peer command
// `DYNOPROXY.INVALIDATIONS <since>` (long poll: answered at once when keys are newer than `since`, else when some arrive or after a
// while); a node with tracking clients polls every other node of its rack on a dedicated link and forwards what it hears to them.
// Never loses an invalidation silently: a feed that moved past a poller's position, or a poll that failed, makes the poller's clients
// drop their whole cache (one flush push) before it starts again.
import { acquireRequest, K_CLIENT, type BackendServer, type ClientSession, type Request } from '../../io/index.ts';
import { F_NONE } from '../../protocol/failure/index.ts';
import { arrayElementBounds } from '../../protocol/resp/index.ts';
import { respCommand } from './push-reader.ts';

export const INVALIDATIONS_COMMAND = 'DYNOPROXY.INVALIDATIONS';
const NAME = Buffer.from(INVALIDATIONS_COMMAND.toLowerCase());

/** Keys a feed keeps (older ones are gone: a poller behind them flushes). */
const FEED_KEYS = 100_000;
/** Keys one poll answer carries at most (the poller asks again at once). */
const ANSWER_KEYS = 10_000;

export function isInvalidationsCommand(buf: Uint8Array, off: number, len: number): boolean {
  if (len !== NAME.length) return false;
  for (let i = 0; i < len; i++) if ((buf[off + i] | 0x20) !== (NAME[i] | 0x20)) return false;
  return true;
}

function bulk(s: string): Buffer {
  return Buffer.from(`$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`, 'latin1');
}

/** `*n+1 :seq key...`, or the flush answer `*2 :seq :1` (the poller's clients drop their caches). */
function answer(seq: number, keys: readonly string[] | null): Buffer {
  if (keys === null) return Buffer.from(`*2\r\n:${seq}\r\n:1\r\n`);
  return Buffer.concat([Buffer.from(`*${keys.length + 1}\r\n:${seq}\r\n`), ...keys.map(bulk)]);
}

interface Parked {
  since: number;
  reply: (r: Uint8Array) => void;
  timer: NodeJS.Timeout;
}

/** The keys this node's datastore reported written, numbered, for the rack's other nodes (one per pool and worker). */
export class InvalidationFeed {
  private readonly keys: string[] = [];
  /** Sequence number of keys[0]. */
  private first = 1;
  private parked: Parked[] = [];
  private readonly parkMs: number;

  constructor(parkMs: number) {
    this.parkMs = parkMs;
  }

  get seq(): number {
    return this.first + this.keys.length - 1;
  }

  /** Keys the datastore reported written (null: it was flushed, or this node's link was lost: everyone flushes). */
  add(keys: readonly string[] | null): void {
    if (keys === null) {
      // A gap nobody can fill: every poller flushes (its position is before the new first key).
      this.first += this.keys.length + 1;
      this.keys.length = 0;
    } else {
      for (const k of keys) this.keys.push(k);
      if (this.keys.length > FEED_KEYS) {
        const drop = this.keys.length - FEED_KEYS;
        this.keys.splice(0, drop);
        this.first += drop;
      }
    }
    const waiting = this.parked;
    this.parked = [];
    for (const p of waiting) {
      clearTimeout(p.timer);
      p.reply(this.since(p.since));
    }
  }

  /** The answer for a poller at `since` (what it has seen); -1 asks for the current position only. */
  private since(since: number): Buffer {
    if (since < 0) return answer(this.seq, []);
    if (since < this.first - 1 || since > this.seq) return answer(this.seq, null);
    const from = since + 1 - this.first;
    const keys = this.keys.slice(from, from + ANSWER_KEYS);
    return answer(since + keys.length, keys);
  }

  /** A poll: answered now when there is something (or it asks for the position), else parked until keys arrive or parkMs passed. */
  poll(since: number, reply: (r: Uint8Array) => void): void {
    if (since < 0 || since !== this.seq) return reply(this.since(since));
    const p: Parked = { since, reply, timer: setTimeout(() => {
      this.parked = this.parked.filter((x) => x !== p);
      reply(this.since(since));
    }, this.parkMs) };
    p.timer.unref();
    this.parked.push(p);
  }

  close(): void {
    for (const p of this.parked) clearTimeout(p.timer);
    this.parked = [];
  }
}

/** What a poller tells: keys written on a peer's datastore, or that its clients must drop everything. */
export interface PollSink {
  invalidate(keys: readonly string[]): void;
  flushAll(): void;
}

/**
 * Polls one peer's feed on a dedicated link (its own connection: a parked poll must not hold the shared link's replies back).
 * `ready` after the first answer (the position); a failure flushes the sink and starts over after a short pause.
 */
export class PeerPoller implements ClientSession {
  closed = false;
  ready = false;
  private since = -1;
  private readonly link: BackendServer;
  private readonly sink: PollSink;
  private waiters: ((ok: boolean) => void)[] = [];
  private readonly bounds = new Int32Array(ANSWER_KEYS + 4);

  constructor(link: BackendServer, sink: PollSink) {
    this.link = link;
    this.sink = sink;
    this.send();
  }

  whenReady(done: (ok: boolean) => void): void {
    if (this.ready) return done(true);
    this.waiters.push(done);
  }

  private settle(ok: boolean): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(ok);
  }

  private send(): void {
    if (this.closed) return;
    const req = acquireRequest(K_CLIENT);
    req.client = this;
    const bytes = respCommand([INVALIDATIONS_COMMAND, String(this.since)]);
    this.link.send(req, bytes, 0, bytes.length);
  }

  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    const b = this.bounds;
    const n = req.failure === F_NONE && buf[start] === 0x2a ? arrayElementBounds(buf, start, end, b) : -1;
    if (n < 1 || buf[b[0]] !== 0x3a) return this.failed();
    const seq = Number(Buffer.from(buf.subarray(b[0] + 1, b[1] - 2)).toString('latin1'));
    const flush = n === 2 && buf[b[1]] === 0x3a;
    if (this.ready && flush) this.sink.flushAll();
    else if (this.ready && n > 1) {
      const keys: string[] = [];
      for (let i = 1; i < n; i++) {
        const s = b[i];
        let j = s + 1;
        while (buf[j] !== 13) j++;
        keys.push(Buffer.from(buf.subarray(j + 2, b[i + 1] - 2)).toString('latin1'));
      }
      this.sink.invalidate(keys);
    }
    this.since = seq;
    if (!this.ready) {
      this.ready = true;
      this.settle(true);
    }
    this.send();
  }

  requestFinished(): void {}

  private failed(): void {
    const wasReady = this.ready;
    this.ready = false;
    this.since = -1;
    this.settle(false);
    // Writes there may have gone unheard meanwhile.
    if (wasReady) this.sink.flushAll();
    setTimeout(() => this.send(), 500).unref();
  }

  close(): void {
    this.closed = true;
    this.link.close();
  }
}
