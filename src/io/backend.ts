// BackendServer / BackendConnection: persistent pipelined connections from one worker to one datastore.
// Never lets a reply reach the wrong request: a connection that times out, breaks or sends garbage fails every request in flight and is replaced.
import net from 'node:net';
import tls from 'node:tls';
import type { LinkTls } from './tls-options.ts';
import { OutBuffer, DIRECT_WRITE_THRESHOLD, registerReadBuffer } from './out-buffer.ts';
import { GatherBuffer } from './gather.ts';
import {
  Request, deliverReply, deliverUnit, UNIT_GO, UNIT_SLOW, releaseRequest, acquireRequest, failRequest, K_INTERNAL, K_INTERNAL_DISCARD, type PinnedConnection, type Pausable, type StreamingMerge,
} from './request.ts';
import { scheduleBackendFlush, afterIo } from './flush.ts';
import { monotonicMs, refreshClock } from './clock.ts';
import { S, type LatencyRecorder } from '../stats/index.ts';
import { PEER_AUTH_TIMEOUT_MS } from '../protocol/dnode/index.ts';
import { strerror } from '../protocol/resp/errors.ts';
import { F_AUTH, F_CONNECTION, F_PROTOCOL, F_TIMEOUT } from '../protocol/failure/index.ts';

/** Finds reply boundaries (RESP or memcached); resumable across reads. */
export interface ReplyScanner {
  scan(buf: Uint8Array, pos: number, end: number): number;
  needed: number;
  isError: boolean;
  reset(): void;
  /** Protocols whose reply framing depends on the request (memcached) are told what comes next. */
  expect?(kind: number): void;
  /** Framed links (dnode peers): the reply handed on is [replyStart, replyEnd) inside the frame, answering msgId. */
  readonly framed?: boolean;
  replyStart?: number;
  replyEnd?: number;
  msgId?: number;
  /** Framed links: the frame's type; while `handshaking`, authentication frames are accepted as well as replies. */
  type?: number;
  handshaking?: boolean;
}

/**
 * Finds the units of one reply as they arrive (array header and elements, VALUE items), for pieces of a streaming merge: each unit is
 * handed over at once, so a long reply is never gathered whole. `isUnit` false: [start, end) is the reply's whole or terminal bytes.
 */
export interface PartScanner {
  scan(buf: Uint8Array, pos: number, end: number): number;
  needed: number;
  isError: boolean;
  isUnit: boolean;
  last: boolean;
  reset(): void;
}

/** A link's authentication exchange (peer links with peer_secret): run before any request leaves. */
export interface LinkAuth {
  /** One frame from the other side: bytes to send, true when done, or why the link fails. */
  step(type: number, payload: Uint8Array): Uint8Array | true | string;
}

export interface BackendHooks {
  newScanner(): ReplyScanner;
  /** Datastore servers: the scanner for replies a streaming merge takes unit by unit (absent: those replies arrive whole). */
  newPartScanner?(): PartScanner;
  /** Bytes to send first on every new connection (e.g. AUTH), or null. */
  handshake: Uint8Array | null;
  /** The error reply a client gets when the datastore fails (reason like "Connection refused"). */
  errorReply(reason: string): Uint8Array;
  onServerStateChange(server: BackendServer): void;
  /** Peer links with a secret: a new exchange per connection; requests wait until it completes. */
  newAuth?: () => LinkAuth | null;
  /** Peer links: write the frame header for a request of payloadLen bytes (msg ids count per connection). */
  writeHeader?: (out: OutBuffer, msgId: number, req: Request, payloadLen: number) => void;
  /** Datastore servers: the handshake of the RESP3 twin that serves RESP3 clients (HELLO 3, with AUTH when set); absent: no twin. */
  resp3Handshake?: Uint8Array;
  /** A connection failed or was closed by the other side (not by close()): why, how many requests it failed, whether it had connected. */
  onConnectionFailed?: (server: BackendServer, reason: string, inFlight: number, connected: boolean, failure: number) => void;
}

export interface BackendSettings {
  timeout: number;
  serverConnections: number;
  serverFailureLimit: number;
  serverRetryTimeout: number;
  autoEjectHosts: boolean;
}

/** The least a blocking call's deadline exceeds its own timeout by. */
const BLOCKING_MARGIN_MS = 2000;

const ABANDONED = Buffer.from('-ERR dynoproxy: the client left\r\n');

/** How long a stream may stall on a client that does not read when the pool has no timeout. */
const STALL_NO_TIMEOUT_MS = 60_000;

/** Connections one worker lets clients pin (WATCH) per server, and clean ones it keeps for reuse. */
export const MAX_PINNED = 1024;
const MAX_IDLE_PINNED = 64;

/** One read buffer per worker for every backend socket: replies are consumed before the callback returns. */
const READ_BUF = Buffer.allocUnsafeSlow(64 * 1024);
registerReadBuffer(READ_BUF);

const ST_CONNECTING = 0;
const ST_READY = 1;
const ST_CLOSED = 2;

export class BackendConnection implements PinnedConnection, Pausable {
  readonly server: BackendServer;
  readonly socket: net.Socket;
  state = ST_CONNECTING;
  readonly out = new OutBuffer();
  flushScheduled = false;
  private readonly gather = new GatherBuffer();
  private readonly scanner: ReplyScanner;
  private readonly partScanner: PartScanner | null;
  /** The reply being read is a streamed piece's: partScanner finds its units. */
  private streaming = false;
  /** Not reading: a streaming merge has no room for more (backpressure); it resumes this connection. */
  pausedFor: StreamingMerge | null = null;
  /** Paused for a slow client (not for a piece running ahead): another request queued here resumes it. */
  private pausedSlow = false;
  private readonly kinded: boolean;
  private readonly framed: boolean;
  private readonly header: BackendHooks['writeHeader'];
  private nextMsgId = 1;
  /** Non-null until the link proved itself (peer_secret); nothing queued is written before. */
  private auth: LinkAuth | null;
  private readonly openedAt = monotonicMs();
  /** A pinned connection waits (corked) until its client's earlier requests elsewhere were answered: nothing is written before. */
  private corked = false;
  /** Taken for one blocking request (BackendServer.sendBlocking): given back once it answers. */
  dedicated = false;
  /** A deadline of its own for requests in flight (a blocking call's timeout plus the pool's; 0: none), or -1: the pool's. */
  timeoutMs = -1;
  /** Requests in flight, oldest first (a ring). */
  private ring: (Request | null)[] = new Array(64).fill(null);
  private head = 0;
  private count = 0;

  constructor(server: BackendServer) {
    this.server = server;
    this.scanner = server.hooks.newScanner();
    this.partScanner = server.hooks.newPartScanner?.() ?? null;
    this.kinded = typeof this.scanner.expect === 'function';
    this.framed = this.scanner.framed === true;
    this.header = server.hooks.writeHeader;
    this.auth = server.hooks.newAuth?.() ?? null;
    if (this.auth !== null) this.scanner.handshaking = true;
    const onread = { buffer: READ_BUF, callback: (n: number) => this.onRead(n) };
    const lt = server.base.linkTls;
    // TLS (backend_tls, secure_server_option): the same static read buffer receives the decrypted bytes.
    const sock = lt === null
      ? net.connect({ host: server.host, port: server.port, noDelay: true, keepAlive: true, onread })
      : tls.connect({ host: server.host, port: server.port, onread, ...lt } as tls.ConnectionOptions); // onread: net's, which tls.connect passes on
    if (lt !== null) {
      sock.setNoDelay(true);
      sock.setKeepAlive(true);
      this.out.recycleWrites();
    }
    this.socket = sock;
    server.st[S.server_connections]++;
    sock.on('connect', () => {
      if (this.state === ST_CONNECTING) this.state = ST_READY;
    });
    sock.on('error', (err: NodeJS.ErrnoException) => this.fail(describeSocketError(err, lt !== null), F_CONNECTION));
    sock.on('close', () => this.fail('Connection closed', F_CONNECTION));
    sock.on('end', () => this.fail('Connection closed by the datastore', F_CONNECTION));
    const hs = server.hooks.handshake;
    if (hs !== null) {
      const req = acquireRequest(K_INTERNAL);
      this.send(req, hs, 0, hs.length);
    }
  }

  get closed(): boolean {
    return this.state === ST_CLOSED;
  }

  get authenticating(): boolean {
    return this.auth !== null;
  }

  /** Queue a request's bytes; they leave in the worker's next batched flush. */
  send(req: Request, src: Uint8Array, start: number, end: number): void {
    this.push(req);
    if (this.header !== undefined) this.header(this.out, (req.msgId = this.msgId()), req, end - start);
    this.server.st[S.server_bytes_out_total] += end - start;
    this.out.append(src, start, end);
    if (!this.flushScheduled) scheduleBackendFlush(this);
  }

  /** Per-link message ids; wrapped below 2^30 so V8 keeps them small integers (no heap number per header). */
  private msgId(): number {
    const id = this.nextMsgId;
    this.nextMsgId = id >= 0x3fffffff ? 1 : id + 1;
    return id;
  }

  /** More bytes of the request queued last (a rewritten line followed by its data block). */
  sendMore(src: Uint8Array, start: number, end: number): void {
    this.server.st[S.server_bytes_out_total] += end - start;
    this.out.append(src, start, end);
    if (!this.flushScheduled) scheduleBackendFlush(this);
  }

  /** Queue a large request whose bytes the caller gives away (no staging copy). */
  sendOwned(req: Request, owned: Uint8Array): void {
    this.push(req);
    if (this.header !== undefined) this.header(this.out, (req.msgId = this.msgId()), req, owned.length);
    this.server.st[S.server_bytes_out_total] += owned.length;
    if (owned.length < DIRECT_WRITE_THRESHOLD || this.auth !== null) {
      this.out.appendBuffer(owned);
      if (!this.flushScheduled) scheduleBackendFlush(this);
      return;
    }
    this.out.writeOwned(this.socket, owned);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.state !== ST_CLOSED && this.auth === null && !this.corked) this.out.flush(this.socket, this.count === 0);
  }

  /** Hold what is queued from now on (a pinned connection whose client still waits for earlier replies). */
  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    if (this.out.size > 0 && !this.flushScheduled) scheduleBackendFlush(this);
  }

  /** Nothing queued and nothing in flight. */
  get idle(): boolean {
    return this.count === 0 && this.out.size === 0;
  }

  private push(req: Request): void {
    if (this.pausedSlow) this.resumeReading();
    req.refs++;
    req.sentAt = monotonicMs();
    if (this.count === this.ring.length) this.growRing();
    this.ring[(this.head + this.count) & (this.ring.length - 1)] = req;
    this.count++;
    const st = this.server.st;
    st[S.server_requests_total]++;
    st[S.server_in_flight]++;
  }

  private shift(): Request | null {
    if (this.count === 0) return null;
    const r = this.ring[this.head];
    this.ring[this.head] = null;
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.count--;
    this.server.st[S.server_in_flight]--;
    return r;
  }

  private growRing(): void {
    const old = this.ring;
    const n = old.length;
    const ring: (Request | null)[] = new Array(n * 2).fill(null);
    for (let i = 0; i < this.count; i++) ring[i] = old[(this.head + i) & (n - 1)];
    this.ring = ring;
    this.head = 0;
  }

  /** Age of the oldest request in flight, or -1. */
  oldestAge(now: number): number {
    if (this.auth !== null) return now - this.openedAt;
    if (this.count === 0) return -1;
    return now - (this.ring[this.head] as Request).sentAt;
  }

  private onRead(n: number): boolean {
    if (this.state === ST_CLOSED) return false;
    refreshClock();
    this.server.st[S.server_bytes_in_total] += n;
    this.consume(READ_BUF, 0, n);
    afterIo();
    return true;
  }

  private consume(buf: Buffer, pos: number, end: number): void {
    const g = this.gather;
    if (g.active) {
      const sc = this.streaming ? (this.partScanner as PartScanner) : this.scanner;
      // Finish the reply (or streamed unit) that spans reads, copying no more of this read than it needs.
      while (pos < end) {
        const want = sc.needed > g.len ? sc.needed - g.len : 256;
        const take = Math.min(end - pos, Math.max(want, 256));
        const before = g.len;
        g.append(buf, pos, pos + take, sc.needed);
        const r = sc.scan(g.buf as Buffer, 0, g.len);
        if (r === 0) {
          pos += take;
          continue;
        }
        if (r < 0) return this.fail('Protocol error from the datastore', F_PROTOCOL);
        if (this.streaming) this.unit(g.buf as Buffer, 0, r);
        else this.reply(g.buf as Buffer, 0, r, sc.isError);
        if (this.state === ST_CLOSED) return;
        // Bytes of this read beyond the reply are parsed in place below.
        pos += r - before;
        // A stream's next unit is likely as large: its buffer is kept until the stream ends.
        g.consume(g.len, this.streaming);
        break;
      }
      if (g.active) return;
    }
    while (pos < end) {
      if (this.count > 0 && !this.streaming) {
        const head = this.ring[this.head] as Request;
        if (this.kinded) (this.scanner as Required<ReplyScanner>).expect(head.replyKind);
        if (head.stream && this.partScanner !== null) {
          // A streamed piece whose whole reply is in this read goes whole (the common small reply); one that spans reads streams.
          const r = this.scanner.scan(buf, pos, end);
          if (r > 0) {
            this.reply(buf, pos, r, this.scanner.isError);
            if (this.state === ST_CLOSED) return;
            pos = r;
            continue;
          }
          if (r < 0) return this.fail('Protocol error from the datastore', F_PROTOCOL);
          this.scanner.reset();
          this.streaming = true;
        }
      }
      const sc = this.streaming ? (this.partScanner as PartScanner) : this.scanner;
      const r = sc.scan(buf, pos, end);
      if (r > 0) {
        if (this.streaming) this.unit(buf, pos, r);
        else this.reply(buf, pos, r, sc.isError);
        if (this.state === ST_CLOSED) return;
        pos = r;
        continue;
      }
      if (r < 0) return this.fail('Protocol error from the datastore', F_PROTOCOL);
      g.append(buf, pos, end, sc.needed);
      return;
    }
  }

  /** One unit of a streamed piece's reply: handed to its merge at once; the piece ends with its last unit. */
  private unit(buf: Uint8Array, start: number, end: number): void {
    const ps = this.partScanner as PartScanner;
    if (!ps.isUnit) {
      this.streaming = false;
      return this.reply(buf, start, end, ps.isError);
    }
    if (this.count === 0) return this.fail('Unexpected reply from the datastore', F_PROTOCOL);
    const req = this.ring[this.head] as Request;
    // The deadline is on silence, not on the length of a reply that keeps coming.
    req.sentAt = monotonicMs();
    const stop = deliverUnit(req, buf, start, end, this);
    // For a slow client only while no other request waits on this connection: nobody else is held up by its pace.
    if (stop !== UNIT_GO && this.pausedFor === null && (stop !== UNIT_SLOW || this.count === 1)) {
      this.pausedFor = (req.parent as Request).merge as StreamingMerge;
      this.pausedSlow = stop === UNIT_SLOW;
      this.socket.pause();
    }
    if (!ps.last) return;
    this.streaming = false;
    // The buffer kept for the stream's units goes back (a gathered last unit's is dropped by the caller).
    if (!this.gather.active) this.gather.consume(0);
    this.reply(buf, end, end, false);
  }

  /** Pausable: the merge that paused this connection has room again. */
  resumeReading(): void {
    if (this.pausedFor === null) return;
    this.pausedFor = null;
    this.pausedSlow = false;
    if (this.state !== ST_CLOSED) this.socket.resume();
  }

  private reply(buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (this.auth !== null) return this.authStep(buf);
    if (this.count === 0) return this.fail('Unexpected reply from the datastore', F_PROTOCOL);
    // Checked before the request leaves the ring, so fail() answers it with the others instead of leaving its client waiting.
    if (this.framed && (this.scanner as Required<ReplyScanner>).msgId !== (this.ring[this.head] as Request).msgId) {
      return this.fail('Reply out of order on a peer link', F_PROTOCOL);
    }
    const req = this.shift() as Request;
    if (this.framed) {
      const sc = this.scanner as Required<ReplyScanner>;
      start = sc.replyStart;
      end = sc.replyEnd;
      const lat = this.server.latency;
      if (lat !== null) lat.record((monotonicMs() - req.sentAt) * 1000);
    }
    if (req.kind === K_INTERNAL) {
      releaseRequest(req);
      if (isError) return this.fail(authRefusal(this.server.name, buf, start, end), F_AUTH);
      return;
    }
    this.server.succeeded();
    deliverReply(req, buf, start, end, isError);
    // A blocking call answered: its connection is clean again.
    if (this.dedicated && this.count === 0 && this.state !== ST_CLOSED) this.server.unpin(this, true);
  }

  /**
   * The client of a blocking call left: the call must not complete (a BLPOP would pop an element nobody receives), so the connection
   * closes (the datastore drops its blocked client) and its requests are let go unanswered. Not a datastore failure.
   */
  abandon(): void {
    if (this.state === ST_CLOSED) return;
    this.state = ST_CLOSED;
    this.server.st[S.server_connections]--;
    this.socket.destroy();
    this.out.drop();
    this.gather.clear();
    this.streaming = false;
    this.pausedFor = null;
    let req: Request | null;
    while ((req = this.shift()) !== null) {
      req.failure = F_CONNECTION;
      deliverReply(req, ABANDONED, 0, ABANDONED.length, true);
    }
    this.server.unpin(this, false);
  }

  private authStep(buf: Uint8Array): void {
    const sc = this.scanner as Required<ReplyScanner>;
    const r = (this.auth as LinkAuth).step(sc.type, buf.subarray(sc.replyStart, sc.replyEnd));
    if (typeof r === 'string') return this.fail(r, F_AUTH);
    if (r === true) {
      this.auth = null;
      sc.handshaking = false;
      if (this.out.size > 0) scheduleBackendFlush(this);
      return;
    }
    this.socket.write(r);
  }

  /** Fail every request in flight with the datastore error and retire this connection. */
  fail(reason: string, failure: number): void {
    if (this.state === ST_CLOSED) return;
    const connected = this.state === ST_READY;
    this.state = ST_CLOSED;
    this.server.st[S.server_connections]--;
    this.socket.destroy();
    this.out.drop();
    this.gather.clear();
    this.scanner.reset();
    this.partScanner?.reset();
    this.streaming = false;
    this.pausedFor = null;
    this.server.hooks.onConnectionFailed?.(this.server, reason, this.count, connected, failure);
    const reply = this.server.hooks.errorReply(reason);
    let req: Request | null;
    while ((req = this.shift()) !== null) {
      req.failure = failure;
      deliverReply(req, reply, 0, reply.length, true);
    }
    this.server.connectionFailed(this, failure, reason);
    afterIo();
  }

  close(): void {
    if (this.state === ST_CLOSED) return;
    this.state = ST_CLOSED;
    this.server.st[S.server_connections]--;
    this.socket.destroy();
  }
}

/**
 * Why a datastore refused the proxy's AUTH, in words that name the datastore and the likely mismatch (clients get it as
 * "-ERR Storage: ...", the log gets it once per server and interval): not a peer or a network problem.
 */
function authRefusal(name: string, buf: Uint8Array, start: number, end: number): string {
  const said = Buffer.from(buf.subarray(start + 1, Math.min(end, start + 201))).toString('latin1').replace(/\r?\n$/, '').trim();
  if (/without any password configured|no password is set/i.test(said)) {
    return `the datastore ${name} has no password set but the pool's requirepass makes the proxy send AUTH, which it refuses (${said}); set the same requirepass on the datastore`;
  }
  if (/WRONGPASS|invalid password|invalid username-password/i.test(said)) {
    return `the datastore ${name} refused the proxy's AUTH (${said}): its password is not the pool's requirepass`;
  }
  return `the datastore ${name} refused the proxy's AUTH (${said})`;
}

/** strerror() wording (one table, protocol/resp/errors.ts), so "-ERR Storage: ..." reads like Dynomite's. */
function describeSocketError(err: NodeJS.ErrnoException, overTls: boolean): string {
  if (err.code === undefined) return err.message;
  const known = strerror(err.code);
  // TLS failures (an unverifiable or misnamed certificate, a handshake refused) keep OpenSSL's words, which say what to fix.
  return known !== err.code || !overTls ? known : `TLS: ${err.message}`;
}

/** One datastore as seen by one worker: its connections, failure count and ejection. */
export class BackendServer {
  readonly index: number;
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly weight: number;
  readonly hooks: BackendHooks;
  settings: BackendSettings;
  private conns: (BackendConnection | null)[];
  private rr = 0;
  /** Connections held by one client each (WATCH), and clean ones kept for the next (at most MAX_IDLE_PINNED). */
  private readonly pinned = new Set<BackendConnection>();
  private readonly idlePinned: BackendConnection[] = [];
  failures = 0;
  /** While now < this, new connections are not attempted (backoff) — requests fail at once. */
  retryAt = 0;
  ejected = false;
  lastError = '';
  /** The failure code (protocol/failures.ts) of lastError. */
  lastFailure = F_CONNECTION;
  /** This server's counters in the worker's stats block (stats/metrics.ts SERVER_METRICS). */
  readonly st: Float64Array;
  /** Peer links: where their round trips are recorded (cross-zone or cross-region), else null. */
  latency: LatencyRecorder | null = null;
  /** The RESP2 server a RESP3 twin stands beside (itself for every other server). */
  base: BackendServer = this;
  /** TLS for new connections (backend_tls, or a peer under secure_server_option); null: plain. Replaced on SIGHUP. */
  linkTls: LinkTls | null = null;
  private twin: BackendServer | null = null;

  constructor(index: number, host: string, port: number, name: string, weight: number, settings: BackendSettings, hooks: BackendHooks, st: Float64Array) {
    this.st = st;
    st[S.server_connections] = 0;
    st[S.server_in_flight] = 0;
    st[S.server_ejected] = 0;
    this.index = index;
    this.host = host;
    this.port = port;
    this.name = name;
    this.weight = weight;
    this.settings = settings;
    this.hooks = hooks;
    this.conns = new Array(Math.max(1, settings.serverConnections)).fill(null);
  }

  /**
   * upstream.send: queue `req` on one of this server's connections, or fail it at once with this server's failure
   * code and error reply (backoff, ejection). Routing never picks connections by hand.
   */
  send(req: Request, src: Uint8Array, start: number, end: number): void {
    const conn = this.choose(req);
    if (conn === null) return failRequest(req, this.lastFailure, this.hooks.errorReply(this.lastError));
    conn.send(req, src, start, end);
  }

  /** upstream.send for a large request whose bytes the caller gives away (no staging copy). */
  sendOwned(req: Request, owned: Uint8Array): void {
    const conn = this.choose(req);
    if (conn === null) return failRequest(req, this.lastFailure, this.hooks.errorReply(this.lastError));
    conn.sendOwned(req, owned);
  }

  /**
   * upstream.send for a transaction: `buf[start, end)` is MULTI, commands, EXEC, with `ends` where MULTI and each command
   * end. All of it goes on one pipelined connection, so no other request lands inside it; the +OK and +QUEUED replies are
   * dropped and `execReq` gets EXEC's reply.
   */
  sendBlock(execReq: Request, buf: Uint8Array, start: number, ends: readonly number[], end: number): void {
    const conn = this.choose(execReq);
    if (conn === null) return failRequest(execReq, this.lastFailure, this.hooks.errorReply(this.lastError));
    let from = start;
    for (const e of ends) {
      conn.send(acquireRequest(K_INTERNAL_DISCARD), buf, from, e);
      from = e;
    }
    conn.send(execReq, buf, from, end);
  }

  /** upstream.send with one token cut out of the request (memcached ` noreply` / meta ` q`): src[start, cut) then src[resume, end). */
  sendSpliced(req: Request, src: Uint8Array, start: number, cut: number, resume: number, end: number): void {
    const conn = this.choose(req);
    if (conn === null) return failRequest(req, this.lastFailure, this.hooks.errorReply(this.lastError));
    conn.send(req, src, start, cut);
    conn.sendMore(src, resume, end);
  }

  /** The request's pinned connection when it is one of this server's (null once it broke: the watch is lost), else pick(). */
  private choose(req: Request): BackendConnection | null {
    if (req.resp3 && this.hooks.resp3Handshake !== undefined) return this.resp3Server().choose(req);
    const pin = req.pin;
    if (pin !== null && (pin as BackendConnection).server === this) return pin.closed ? null : (pin as BackendConnection);
    if (req.blockMs >= 0) return this.blockingConnection(req);
    return this.pick(monotonicMs());
  }

  /** A side connection to this datastore (pub/sub, tracking), plain or TLS as its request connections; `onReady` once it can be written. */
  connectSide(onReady: () => void): net.Socket {
    const lt = this.base.linkTls;
    if (lt === null) {
      const sock = net.connect({ host: this.host, port: this.port, noDelay: true });
      sock.on('connect', onReady);
      return sock;
    }
    const sock = tls.connect({ host: this.host, port: this.port, ...lt });
    sock.setNoDelay(true);
    sock.on('secureConnect', onReady);
    return sock;
  }

  /** The server's RESP3 twin: the same datastore over connections that said HELLO 3 (made on first use; same counters). */
  resp3Server(): BackendServer {
    const hs = this.hooks.resp3Handshake;
    if (hs === undefined) return this;
    if (this.twin === null) {
      const hooks: BackendHooks = { ...this.hooks, handshake: hs, resp3Handshake: undefined };
      // The twin counts into this server's block; its constructor must not reset the gauges already there.
      const st = this.st;
      const kept = [st[S.server_connections], st[S.server_in_flight], st[S.server_ejected]];
      const twin = new BackendServer(this.index, this.host, this.port, this.name, this.weight, this.settings, hooks, st);
      [st[S.server_connections], st[S.server_in_flight], st[S.server_ejected]] = kept;
      twin.base = this;
      this.twin = twin;
    }
    return this.twin;
  }

  /**
   * A blocking call (BLPOP ...) gets a connection of its own (a pin given back when it answers) with the call's timeout plus the
   * pool's as its deadline (none for a call that blocks forever). Callers bound how many (max_blocking_connections).
   */
  private blockingConnection(req: Request): BackendConnection | null {
    const c = this.pin();
    if (c === null) return null;
    c.dedicated = true;
    const t = this.settings.timeout;
    // The datastore answers at the call's own timeout; the margin (the pool's timeout, at least 2 s) is for a slow or loaded one.
    c.timeoutMs = req.blockMs === 0 || t <= 0 ? 0 : req.blockMs + Math.max(t, BLOCKING_MARGIN_MS);
    req.pin = c;
    return c;
  }

  /**
   * A connection for one client alone (WATCH ... EXEC): a clean idle one or a new one, outside the shared round robin. Null when
   * the server is failing (its lastError says why) or this worker already pins MAX_PINNED of its connections.
   */
  pin(): BackendConnection | null {
    let c: BackendConnection | undefined;
    while ((c = this.idlePinned.pop()) !== undefined) {
      if (!c.closed) break;
    }
    if (c === undefined) {
      if (this.pinned.size >= MAX_PINNED) return null;
      if (monotonicMs() < this.retryAt) return null;
      c = new BackendConnection(this);
    }
    c.dedicated = false;
    c.timeoutMs = -1;
    this.pinned.add(c);
    this.st[S.server_pinned_connections] = this.pinned.size;
    return c;
  }

  /** How many connections clients hold now (pin() refuses past MAX_PINNED). */
  get pinnedCount(): number {
    return this.pinned.size;
  }

  /** A pinned connection given back: kept for the next pin() when `clean` (no watch, no MULTI left on it), else closed. */
  unpin(c: BackendConnection, clean: boolean): void {
    if (!this.pinned.delete(c)) return;
    this.st[S.server_pinned_connections] = this.pinned.size;
    if (clean && !c.closed && this.idlePinned.length < MAX_IDLE_PINNED) this.idlePinned.push(c);
    else c.close();
  }

  /** A connection to send on, or null when the server is failing (caller answers with `lastError`). */
  pick(now: number): BackendConnection | null {
    const conns = this.conns;
    const i = this.rr;
    this.rr = i + 1 === conns.length ? 0 : i + 1;
    const c = conns[i];
    if (c !== null && !c.closed) return c;
    if (now < this.retryAt) return null;
    const nc = new BackendConnection(this);
    conns[i] = nc;
    return nc;
  }

  preconnect(): void {
    const now = monotonicMs();
    for (let i = 0; i < this.conns.length; i++) {
      const c = this.conns[i];
      if ((c === null || c.closed) && now >= this.retryAt) this.conns[i] = new BackendConnection(this);
    }
  }

  succeeded(): void {
    if (this.failures !== 0) {
      this.failures = 0;
      this.retryAt = 0;
      if (this.ejected) {
        this.ejected = false;
        this.st[S.server_ejected] = 0;
        this.hooks.onServerStateChange(this);
      }
    }
  }

  connectionFailed(conn: BackendConnection, failure: number, reason: string): void {
    for (let i = 0; i < this.conns.length; i++) if (this.conns[i] === conn) this.conns[i] = null;
    // A pinned connection stays in `pinned` (closed) until its client lets it go: its next request fails, the watch being lost.
    const idle = this.idlePinned.indexOf(conn);
    if (idle >= 0) this.idlePinned.splice(idle, 1);
    this.failures++;
    this.st[S.server_errors_total]++;
    if (failure === F_TIMEOUT) this.st[S.server_timeouts_total]++;
    this.lastError = reason;
    this.lastFailure = failure;
    const s = this.settings;
    const now = monotonicMs();
    if (s.autoEjectHosts && this.failures >= s.serverFailureLimit) {
      this.retryAt = now + s.serverRetryTimeout;
      if (!this.ejected) {
        this.ejected = true;
        this.st[S.server_ejected] = 1;
        this.st[S.server_ejections_total]++;
        this.hooks.onServerStateChange(this);
      }
    } else if (failure === F_TIMEOUT) {
      // A slow datastore still accepts connections: reconnect at once, as twemproxy does, so each request waits out its own timeout.
      this.retryAt = now;
    } else {
      // Back off exponentially so a dead datastore is not hammered, capped by server_retry_timeout.
      const backoff = Math.min(s.serverRetryTimeout, 50 * 2 ** Math.min(this.failures - 1, 10));
      this.retryAt = now + backoff;
    }
  }

  /** Eject window over: take the server back into the distribution and try it again. */
  maybeUneject(now: number): boolean {
    if (this.ejected && now >= this.retryAt) {
      this.ejected = false;
      this.st[S.server_ejected] = 0;
      return true;
    }
    return false;
  }

  /** Fail requests older than the timeout (twemproxy semantics: the connection is closed). */
  checkTimeouts(now: number): void {
    for (const c of this.conns) if (c !== null) this.checkTimeout(c, now);
    if (this.pinned.size > 0) for (const c of this.pinned) this.checkTimeout(c, now);
    if (this.twin !== null) this.twin.checkTimeouts(now);
  }

  private checkTimeout(c: BackendConnection, now: number): void {
    const t = c.timeoutMs >= 0 ? c.timeoutMs : this.settings.timeout;
    if (c.closed) return;
    // Paused for a streaming merge: no reply can come; the merge's client is given up on if nothing moves for twice the timeout.
    const paused = c.pausedFor;
    if (paused !== null) {
      if (paused.stalledFor(now) > (t > 0 ? 2 * t : STALL_NO_TIMEOUT_MS)) paused.giveUp();
      return;
    }
    // An authentication exchange is bounded even where requests may wait forever (timeout 0).
    if (c.authenticating) {
      if (c.oldestAge(now) > (t > 0 ? t : PEER_AUTH_TIMEOUT_MS)) c.fail('Peer authentication timed out (does the peer have peer_secret set?)', F_AUTH);
    } else if (t > 0 && c.oldestAge(now) > t) c.fail('Connection timed out', F_TIMEOUT);
  }

  close(): void {
    for (const c of this.conns) if (c !== null) c.close();
    for (const c of this.pinned) c.close();
    for (const c of this.idlePinned) c.close();
    this.idlePinned.length = 0;
    this.twin?.close();
  }
}
