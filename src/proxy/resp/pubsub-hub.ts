// PubSubHub: one subscription connection per datastore server and data worker, subscribed to the union of what this worker's clients
// want; each message is copied once and fanned out to the clients subscribed to its channel or pattern. 10,000 subscribers cost one
// backend connection per worker, not 10,000. Never confirms a subscription to a client before the datastore did (a message published
// after the client saw its confirmation is never missed); resubscribes after a reconnect.
import type net from 'node:net';
import { arrayElementBounds } from '../../protocol/resp/index.ts';
import { ReplyReader, respCommand } from './push-reader.ts';
import type { BackendServer } from '../../io/index.ts';

/** subscribe / psubscribe / ssubscribe. */
export const K_CHANNEL = 0;
export const K_PATTERN = 1;
export const K_SHARD = 2;
const SUB = ['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE'];
const UNSUB = ['UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE'];
const CONFIRM = ['subscribe', 'psubscribe', 'ssubscribe'];

/** A client's subscriptions: names by kind (channels, patterns, shard channels). */
export class ClientSubs {
  readonly names: Set<string>[] = [new Set(), new Set(), new Set()];
  /** Channels and patterns (what SUBSCRIBE / PSUBSCRIBE replies count), as Redis counts them. */
  get count(): number {
    return this.names[K_CHANNEL].size + this.names[K_PATTERN].size;
  }
  get active(): boolean {
    return this.count > 0 || this.names[K_SHARD].size > 0;
  }
}

/** A client that receives messages. */
export interface Subscriber {
  /** A message (RESP2 push array), shared between subscribers: not to be changed. */
  deliverMessage(message: Buffer): void;
}


/** The content of the bulk string element at buf[s] as latin1 text ('' for nil). */
function bulkText(buf: Buffer, s: number): string {
  if (buf[s] !== 0x24 || buf[s + 1] === 0x2d) return '';
  const eol = buf.indexOf(13, s);
  const len = Number(buf.toString('latin1', s + 1, eol));
  return buf.toString('latin1', eol + 2, eol + 2 + len);
}

/** One datastore server's subscription connection. */
export class PubSubLink {
  private readonly server: BackendServer;
  private readonly handshake: Buffer | null;
  private socket: net.Socket | null = null;
  private ready = false;
  private authPending = false;
  private readonly reader = new ReplyReader();
  private readonly onFrame = (buf: Buffer, start: number, end: number): void => this.frame(buf, start, end);
  /** By kind: name -> subscribers. */
  readonly subs: Map<string, Set<Subscriber>>[] = [new Map(), new Map(), new Map()];
  /** Subscribers waiting for the datastore's confirmation, by kind and name (`${kind}:${name}`). */
  private waiters = new Map<string, ((ok: boolean) => void)[]>();
  private backoff = 50;
  private closedForGood = false;
  private readonly bounds = new Int32Array(8);

  constructor(server: BackendServer, handshake: Buffer | null) {
    this.server = server;
    this.handshake = handshake;
  }

  /** Add `who` to `name`; `done(true)` once the datastore confirmed (at once when the name was already subscribed here). */
  subscribe(kind: number, name: string, who: Subscriber, done: (ok: boolean) => void): void {
    const m = this.subs[kind];
    let set = m.get(name);
    if (set !== undefined && set.size > 0) {
      set.add(who);
      // Still waiting for the datastore's confirmation of this name: so does this subscriber.
      const waiting = this.waiters.get(`${kind}:${name}`);
      if (waiting !== undefined) waiting.push(done);
      else done(true);
      return;
    }
    if (set === undefined) m.set(name, (set = new Set()));
    set.add(who);
    this.waiters.set(`${kind}:${name}`, [done]);
    this.ensureSocket();
    if (this.ready) this.write(respCommand([SUB[kind], name], 'latin1'));
  }

  /** Remove `who` from `name`; the last one out unsubscribes the datastore. */
  unsubscribe(kind: number, name: string, who: Subscriber): void {
    const m = this.subs[kind];
    const set = m.get(name);
    if (set === undefined || !set.delete(who) || set.size > 0) return;
    m.delete(name);
    if (this.ready) return this.write(respCommand([UNSUB[kind], name], 'latin1'));
    // Not connected yet: the SUBSCRIBE never went out and now never will (connect asks for what is still wanted), so no
    // confirmation would come; confirm the waiting subscribers here, as Redis would have before their UNSUBSCRIBE or RESET.
    const key = `${kind}:${name}`;
    const waiting = this.waiters.get(key);
    if (waiting === undefined) return;
    this.waiters.delete(key);
    for (const done of waiting) done(true);
  }

  close(): void {
    this.closedForGood = true;
    this.socket?.destroy();
  }

  private write(b: Buffer): void {
    this.socket?.write(b);
  }

  private ensureSocket(): void {
    if (this.socket !== null || this.closedForGood) return;
    const sock: net.Socket = this.server.connectSide(() => {
      this.backoff = 50;
      if (this.handshake !== null) {
        this.authPending = true;
        sock.write(this.handshake);
      }
      this.ready = true;
      // Everything wanted, in one go (after a reconnect too); the datastore confirms each name in order.
      for (let k = 0; k < 3; k++) {
        const names = [...this.subs[k].keys()];
        if (names.length > 0) sock.write(respCommand([SUB[k], ...names], 'latin1'));
      }
    });
    this.socket = sock;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    const lost = (): void => this.onClose();
    sock.on('error', lost);
    sock.on('close', lost);
  }

  private onClose(): void {
    if (this.socket === null) return;
    this.socket.destroy();
    this.socket = null;
    this.ready = false;
    this.reader.reset();
    const waiting = this.waiters;
    this.waiters = new Map();
    // Clients waiting for a confirmation hear the failure; the names stay wanted and are resubscribed once the server is back.
    for (const dones of waiting.values()) for (const done of dones) done(false);
    if (this.closedForGood) return;
    if (this.subs.some((m) => m.size > 0)) {
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, 2000);
      setTimeout(() => this.ensureSocket(), delay).unref();
    }
  }

  private onData(chunk: Buffer): void {
    if (!this.reader.feed(chunk, this.onFrame)) this.onClose();
  }


  private frame(buf: Buffer, start: number, end: number): void {
    if (this.authPending && buf[start] !== 0x2a) {
      this.authPending = false;
      // The datastore refused the proxy's AUTH: nothing can be subscribed on this connection.
      if (buf[start] === 0x2d) this.closedForGood = true;
      if (buf[start] === 0x2d) this.onClose();
      return;
    }
    const b = this.bounds;
    const n = arrayElementBounds(buf, start, end, b);
    if (n < 1) return;
    const kind = bulkText(buf, b[0]);
    if (kind === 'message' || kind === 'smessage') {
      const set = this.subs[kind === 'message' ? K_CHANNEL : K_SHARD].get(bulkText(buf, b[1]));
      if (set === undefined || set.size === 0) return;
      const msg = Buffer.from(buf.subarray(start, end));
      for (const s of set) s.deliverMessage(msg);
      return;
    }
    if (kind === 'pmessage') {
      const set = this.subs[K_PATTERN].get(bulkText(buf, b[1]));
      if (set === undefined || set.size === 0) return;
      const msg = Buffer.from(buf.subarray(start, end));
      for (const s of set) s.deliverMessage(msg);
      return;
    }
    const k = CONFIRM.indexOf(kind);
    if (k < 0) return;
    const name = bulkText(buf, b[1]);
    const key = `${k}:${name}`;
    const confirmed = this.waiters.get(key);
    if (confirmed === undefined) return;
    this.waiters.delete(key);
    for (const done of confirmed) done(true);
  }
}

/** The hub of one pool in one data worker: a link per datastore server, made on first use. */
export class PubSubHub {
  private readonly links = new Map<BackendServer, PubSubLink>();
  private readonly handshake: Buffer | null;

  constructor(handshake: Buffer | null) {
    this.handshake = handshake;
  }

  /** This worker's clients subscribed to `name` (K_CHANNEL or K_SHARD): PUBSUB NUMSUB's share of this worker. */
  count(kind: number, name: string): number {
    let n = 0;
    for (const l of this.links.values()) n += l.subs[kind].get(name)?.size ?? 0;
    return n;
  }

  link(server: BackendServer): PubSubLink {
    let l = this.links.get(server);
    if (l === undefined) this.links.set(server, (l = new PubSubLink(server, this.handshake)));
    return l;
  }

  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}
