// CLIENT TRACKING (client-side caching) through a single-node pool, RESP3 clients: default mode (the keys the client read) and BCAST
// (prefixes). Each data worker keeps one connection per datastore server in `CLIENT TRACKING ON BCAST` mode, which hears every key
// written there; the worker forwards an invalidation to the clients that read the key (or whose prefix matches) as a RESP3 push, after
// any reply they are still waiting for. Never registers a key after its read was sent (registration comes first), and tells every
// tracking client to drop its whole cache when an invalidation connection was lost (writes may have been missed).
import type net from 'node:net';
import { arrayElementBounds } from '../../protocol/resp/index.ts';
import { ReplyReader, respCommand } from './push-reader.ts';
import type { BackendServer } from '../../io/index.ts';
import { InvalidationFeed, PeerPoller, type PollSink } from './tracking-peers.ts';

/** What tracking needs of a client. */
export interface TrackingClient {
  readonly closed: boolean;
  tracking: TrackingState | null;
  pushLocal(message: Uint8Array): void;
}

export class TrackingState {
  readonly bcast: boolean;
  readonly prefixes: readonly string[];
  /** OPTIN: a read is tracked only right after CLIENT CACHING yes; OPTOUT: unless right after CLIENT CACHING no. */
  readonly optin: boolean;
  readonly optout: boolean;
  /** NOLOOP: no invalidation for a key this client wrote itself. */
  readonly noloop: boolean;
  /** CLIENT CACHING yes|no for the next command (1 yes, 0 no, -1 none); the next command consumes it, whatever it is. */
  caching = -1;
  /** CLIENT CACHING was the command just before this one (its flag is still good). */
  cachingFresh = false;
  /** Keys read before every invalidation link was ready: the client drops its cache once they are. */
  earlyReads = 0;
  ready = false;
  constructor(bcast: boolean, prefixes: readonly string[], opts: { optin?: boolean; optout?: boolean; noloop?: boolean } = {}) {
    this.bcast = bcast;
    this.prefixes = prefixes;
    this.optin = opts.optin === true;
    this.optout = opts.optout === true;
    this.noloop = opts.noloop === true;
  }

  /** Every command starts here: CLIENT CACHING's flag lives for exactly one command after it. */
  nextCommand(): void {
    if (this.caching < 0) return;
    if (this.cachingFresh) this.cachingFresh = false;
    else this.caching = -1;
  }

  /** Whether this command's reads are tracked (default mode), consuming CLIENT CACHING's one-command flag. */
  tracksNext(): boolean {
    const caching = this.caching;
    this.caching = -1;
    if (this.bcast) return false;
    if (this.optin) return caching === 1;
    if (this.optout) return caching !== 0;
    return true;
  }
}

/** NOLOOP writes waiting for their own invalidation, at most this many keys per worker (the oldest are forgotten). */
const MAX_NOLOOP_KEYS = 100_000;

/** Keys tracked per worker in default mode, as Redis' tracking_table_max_keys: past it the oldest key is invalidated. */
export const MAX_TRACKED_KEYS = 1_000_000;

const FLUSH_ALL = Buffer.from('>2\r\n$10\r\ninvalidate\r\n_\r\n');

function invalidation(keys: readonly string[]): Buffer {
  const parts = [Buffer.from(`>2\r\n$10\r\ninvalidate\r\n*${keys.length}\r\n`)];
  for (const k of keys) parts.push(Buffer.from(`$${Buffer.byteLength(k, 'latin1')}\r\n${k}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

/** A connection to one datastore that hears, in BCAST mode, every key written there. */
class InvalidationLink {
  private socket: net.Socket | null = null;
  private readonly reader = new ReplyReader();
  private readonly onFrame = (buf: Buffer, start: number, end: number): void => this.frame(buf, start, end);
  /** Replies still expected before pushes: HELLO's map and TRACKING's +OK. */
  private expected = 0;
  private readyWaiters: ((ok: boolean) => void)[] = [];
  ready = false;
  private closedForGood = false;
  private readonly bounds = new Int32Array(4);

  private readonly server: BackendServer;
  private readonly pass: string | null;
  private readonly hub: TrackingHub;

  constructor(server: BackendServer, pass: string | null, hub: TrackingHub) {
    this.server = server;
    this.pass = pass;
    this.hub = hub;
  }

  /** `done(true)` once the datastore tracks for this link (at once when it already does). */
  whenReady(done: (ok: boolean) => void): void {
    if (this.ready) return done(true);
    this.readyWaiters.push(done);
    if (this.socket !== null) return;
    const sock: net.Socket = this.server.connectSide(() => {
      this.expected = 2;
      sock.write(respCommand(this.pass === null ? ['HELLO', '3'] : ['HELLO', '3', 'AUTH', 'default', this.pass]));
      sock.write(respCommand(['CLIENT', 'TRACKING', 'ON', 'BCAST']));
    });
    this.socket = sock;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', () => this.onClose());
    sock.on('close', () => this.onClose());
  }

  close(): void {
    this.closedForGood = true;
    this.socket?.destroy();
  }

  private onClose(): void {
    if (this.socket === null) return;
    this.socket.destroy();
    this.socket = null;
    const wasReady = this.ready;
    this.ready = false;
    this.reader.reset();
    const waiting = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiting) w(false);
    // Writes may have happened unheard: every tracking client drops its cache; the link is made again on the next need.
    if (wasReady && !this.closedForGood) this.hub.fromDatastore(null);
  }

  private onData(chunk: Buffer): void {
    if (!this.reader.feed(chunk, this.onFrame)) this.onClose();
  }


  private frame(buf: Buffer, start: number, end: number): void {
    if (buf[start] !== 0x3e) {
      if (this.expected === 0) return;
      if (buf[start] === 0x2d) {
        this.closedForGood = true;
        return this.onClose();
      }
      if (--this.expected > 0) return;
      this.ready = true;
      const waiting = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiting) w(true);
      return;
    }
    // >2 $10 invalidate (*n keys | _ : the datastore was flushed)
    const frame = Buffer.from(buf.subarray(start, end));
    frame[0] = 0x2a;
    const b = this.bounds;
    if (arrayElementBounds(frame, 0, frame.length, b) !== 2) return;
    if (frame[b[1]] === 0x5f) return this.hub.fromDatastore(null);
    const keyBounds = new Int32Array(((b[2] - b[1]) >> 2) + 2);
    const n = arrayElementBounds(frame, b[1], b[2], keyBounds);
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = keyBounds[i];
      const eol = frame.indexOf(13, s);
      const len = Number(frame.toString('latin1', s + 1, eol));
      keys.push(frame.toString('latin1', eol + 2, eol + 2 + len));
    }
    this.hub.fromDatastore(keys);
  }
}

/** The tracking of one pool in one data worker. */
export class TrackingHub implements PollSink {
  private readonly links = new Map<BackendServer, InvalidationLink>();
  /** Default mode: key -> the clients that read it since its last invalidation. */
  private readonly keys = new Map<string, Set<TrackingClient>>();
  private readonly bcast = new Set<TrackingClient>();
  /** Every tracking client (what a lost link's flush reaches). */
  private readonly all = new Set<TrackingClient>();
  /** NOLOOP: key -> the clients that wrote it themselves and must not hear its next invalidation. */
  private readonly ownWrites = new Map<string, Set<TrackingClient>>();
  private readonly pass: string | null;
  /** What this worker's datastore links heard, for the rack's other nodes (made when a peer first polls; null before). */
  private feedOf: InvalidationFeed | null = null;
  /** Cluster nodes: one poller per other node of this rack, by node identity (made when a client here first tracks). */
  private readonly pollers = new Map<string, PeerPoller>();
  private readonly parkMs: number;

  /** `parkMs`: how long a peer's poll may wait for keys (under the pool's request timeout). */
  constructor(pass: string | null, parkMs = 10_000) {
    this.pass = pass;
    this.parkMs = parkMs;
  }

  /** The feed peers poll (cluster nodes). */
  feed(): InvalidationFeed {
    this.feedOf ??= new InvalidationFeed(this.parkMs);
    return this.feedOf;
  }

  /** Keys this node's datastore reported written (null: flushed, or a link lost): this node's clients and the rack's pollers hear it. */
  fromDatastore(keys: readonly string[] | null): void {
    this.feedOf?.add(keys);
    if (keys === null) this.flushAll();
    else this.invalidate(keys);
  }

  /**
   * Cluster nodes: a poller on every other node of this rack (`peers`: identity and a way to make a dedicated link), ready when each
   * answered its first poll; pollers of nodes no longer listed are closed.
   */
  ensurePeers(peers: readonly { id: string; link: () => BackendServer }[], done: (ok: boolean) => void): void {
    const keep = new Set(peers.map((p) => p.id));
    for (const [id, poller] of this.pollers) {
      if (keep.has(id)) continue;
      poller.close();
      this.pollers.delete(id);
    }
    let waiting = peers.length;
    let failed = false;
    if (waiting === 0) return done(true);
    for (const p of peers) {
      let poller = this.pollers.get(p.id);
      if (poller === undefined) this.pollers.set(p.id, (poller = new PeerPoller(p.link(), this)));
      poller.whenReady((ok) => {
        if (!ok) failed = true;
        if (--waiting === 0) done(!failed);
      });
    }
  }

  /** Every server's invalidation link ready (made on first use): `done(false)` when one could not be. */
  ensure(servers: readonly BackendServer[], done: (ok: boolean) => void): void {
    let waiting = servers.length;
    let failed = false;
    if (waiting === 0) return done(false);
    for (const s of servers) {
      let l = this.links.get(s);
      if (l === undefined) this.links.set(s, (l = new InvalidationLink(s, this.pass, this)));
      l.whenReady((ok) => {
        if (!ok) failed = true;
        if (--waiting === 0) done(!failed);
      });
    }
  }

  enable(c: TrackingClient, state: TrackingState): void {
    this.disable(c);
    c.tracking = state;
    this.all.add(c);
    if (state.bcast) this.bcast.add(c);
  }

  disable(c: TrackingClient): void {
    if (c.tracking === null) return;
    c.tracking = null;
    this.bcast.delete(c);
    this.all.delete(c);
    // Default mode entries go lazily: a closed or non-tracking client is skipped when its keys are invalidated.
  }

  /** A default-mode client is about to read `key`. */
  read(c: TrackingClient, key: string): void {
    if (!(c.tracking as TrackingState).ready) (c.tracking as TrackingState).earlyReads++;
    let set = this.keys.get(key);
    if (set === undefined) {
      if (this.keys.size >= MAX_TRACKED_KEYS) {
        const oldest = this.keys.keys().next().value as string;
        this.invalidate([oldest]);
      }
      this.keys.set(key, (set = new Set()));
    }
    set.add(c);
  }

  /** A NOLOOP client is about to write `key`: the invalidation that write causes is not sent to it. */
  wrote(c: TrackingClient, key: string): void {
    let set = this.ownWrites.get(key);
    if (set === undefined) {
      if (this.ownWrites.size >= MAX_NOLOOP_KEYS) this.ownWrites.delete(this.ownWrites.keys().next().value as string);
      this.ownWrites.set(key, (set = new Set()));
    }
    set.add(c);
  }

  invalidate(keys: readonly string[]): void {
    const per = new Map<TrackingClient, string[]>();
    for (const k of keys) {
      const own = this.ownWrites.get(k);
      if (own !== undefined) this.ownWrites.delete(k);
      const set = this.keys.get(k);
      if (set !== undefined) {
        this.keys.delete(k);
        for (const c of set) if (!c.closed && c.tracking !== null && !c.tracking.bcast && own?.has(c) !== true) (per.get(c) ?? per.set(c, []).get(c))!.push(k);
      }
      for (const c of this.bcast) {
        if (c.closed || own?.has(c) === true) continue;
        const prefixes = (c.tracking as TrackingState).prefixes;
        if (prefixes.length === 0 || prefixes.some((p) => k.startsWith(p))) (per.get(c) ?? per.set(c, []).get(c))!.push(k);
      }
    }
    for (const [c, ks] of per) c.pushLocal(invalidation(ks));
  }

  flushAll(): void {
    this.keys.clear();
    for (const c of this.all) if (!c.closed) c.pushLocal(FLUSH_ALL);
  }

  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const p of this.pollers.values()) p.close();
    this.pollers.clear();
    this.feedOf?.close();
  }
}
