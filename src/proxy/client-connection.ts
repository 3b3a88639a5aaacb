// ClientConnection: one client connection, whatever its protocol: incremental framing, in-order replies, backpressure.
// Never lets a slow or hostile client grow memory without bound, never writes a reply out of request order, and never lets a throw
// while serving one connection reach the worker (that connection is answered with an error and closed; the others go on).
import type { Socket } from 'node:net';
import {
  GatherBuffer, OutBuffer, registerReadBuffer, Request, releaseRequest, cancelRequest, acquireRequest, isDropped, K_CLIENT, type ClientSession, type BackendConnection, markClientDirty, afterIo, useStaticReadBuffer, monotonicMs, refreshClock,
  type ReplySink, type StreamingMerge,
} from '../io/index.ts';
import { P } from '../stats/index.ts';
import type { PoolContext } from './pool-context.ts';
import { PARSE_INCOMPLETE, PARSE_ERROR, type FrameParser, type ProtocolAdapter } from './protocol-adapter.ts';
import { nextFaultCode, reportConnectionFault } from './worker-events.ts';

export { PARSE_INCOMPLETE, PARSE_ERROR, type FrameParser } from './protocol-adapter.ts';

/** One read buffer per worker for every client socket: each read is consumed (or copied) before the callback returns. */
const READ_BUF = Buffer.allocUnsafeSlow(64 * 1024);
registerReadBuffer(READ_BUF);
const CLIENT = Symbol('dynoproxy.client');
/** A faulted connection whose earlier requests never complete is destroyed after this long. */
const FAULT_CLOSE_MS = 5000;
/** How long a peer may keep its side open after our FIN (see endSocket). */
const END_GRACE_MS = 2000;

function onStaticRead(this: Socket, n: number): boolean {
  (this as unknown as Record<symbol, ClientConnection>)[CLIENT].onData(READ_BUF, n);
  return true;
}

export abstract class ClientConnection implements ClientSession, ReplySink {
  readonly socket: Socket;
  readonly pool: PoolContext;
  readonly id: number;
  abstract readonly parser: FrameParser;
  /** The protocol's error test and words (protocol-adapter.ts): counters never test one protocol's error byte. */
  abstract readonly adapter: ProtocolAdapter;
  /** Command family of the proxy's own replies, for the per-family error counter (-1: not counted). */
  protected localGroup = -1;
  private readonly gather = new GatherBuffer();
  readonly out = new OutBuffer();
  closed = false;
  /** No more requests are read: QUIT, protocol error, or drain. */
  private closing = false;
  flushScheduled = false;
  private paused = false;
  private head: Request | null = null;
  private tail: Request | null = null;
  /** Requests queued and not yet answered to the client. */
  queued = 0;
  /** The client speaks RESP3 (HELLO 3): its requests say so (Request.resp3). */
  resp3 = false;
  /** The backend connection this client holds alone (RESP WATCH, resp/resp-watch.ts), or null: every request for its server goes on it. */
  pin: BackendConnection | null = null;
  /** The pin is being let go: it is, once none of this client's requests is left on it (later ones must not overtake them). */
  pinReleasing = false;
  /** The first request sent on a new pin: the pin stays corked until every request queued before it was answered. */
  private pinBarrier: Request | null = null;
  /** Serving this connection threw once: it is answered with an error and closing; a second throw destroys it. */
  private faulted = false;
  constructor(socket: Socket, pool: PoolContext, id: number) {
    this.socket = socket;
    this.pool = pool;
    this.id = id;
    socket.setNoDelay(true);
    if ((socket as { encrypted?: boolean }).encrypted === true) this.out.recycleWrites();
    (socket as unknown as Record<symbol, ClientConnection>)[CLIENT] = this;
    // Bytes a TLS socket decrypted before it was handed over sit in the stream: they come as 'data' (later reads use the static buffer).
    if (!useStaticReadBuffer(socket, READ_BUF, onStaticRead) || socket.readableLength > 0) socket.on('data', (chunk: Buffer) => this.onData(chunk, chunk.length));
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
    socket.on('end', () => this.onEnd());
    socket.resume();
  }

  onData(chunk: Buffer, n: number): void {
    if (this.closing) return;
    refreshClock();
    this.pool.st[P.client_bytes_in_total] += n;
    // One try around the whole read (no per-request cost): a throw while serving this connection closes it alone.
    try {
      this.consume(chunk, 0, n);
      this.checkPressure();
    } catch (err) {
      this.fault(err);
    }
    afterIo();
  }

  /**
   * Serving this connection threw (a proxy bug): counted, logged with an incident code, the request answered with an error naming
   * that code after the replies before it, then this connection closes. The worker and its other connections go on.
   */
  fault(err: unknown): void {
    if (this.faulted || this.closed) {
      this.socket.destroy();
      return;
    }
    this.faulted = true;
    this.pool.st[P.client_exceptions_total]++;
    const e = err instanceof Error ? err : new Error(String(err));
    const code = nextFaultCode();
    reportConnectionFault({
      pool: this.pool.config.name,
      what: 'client-exception',
      code,
      where: `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`,
      message: e.message,
      stack: (e.stack ?? '').split('\n').slice(0, 10).join('\n'),
    });
    this.gather.clear();
    try {
      this.replyLocal(this.internalErrorReply(code), true);
    } catch {
      this.socket.destroy();
      return;
    }
    // An earlier request left half-made by the throw may never complete: the connection does not wait for it forever.
    setTimeout(() => this.socket.destroy(), FAULT_CLOSE_MS).unref();
  }

  private consume(buf: Buffer, pos: number, end: number): void {
    const g = this.gather;
    const p = this.parser;
    if (g.active) {
      while (pos < end) {
        const want = p.needed > g.len ? p.needed - g.len : 512;
        const take = Math.min(end - pos, Math.max(want, 512));
        const before = g.len;
        g.append(buf, pos, pos + take, p.needed);
        const gb = g.buf as Buffer;
        const r = p.parse(gb, 0, g.len);
        if (r === PARSE_INCOMPLETE) {
          pos += take;
          continue;
        }
        if (r === PARSE_ERROR) return this.protocolError(p.errorMessage);
        pos += r - before;
        this.frame(gb, p.frameStart, r, true);
        g.consume(g.len);
        if (this.closing) return;
        break;
      }
      if (g.active) return;
    }
    while (pos < end) {
      const r = p.parse(buf, pos, end);
      if (r > 0) {
        this.frame(buf, p.frameStart, r, false);
        if (this.closing) return;
        pos = r;
        continue;
      }
      if (r === PARSE_ERROR) return this.protocolError(p.errorMessage);
      // Empty lines before the partial frame were consumed by the parser.
      if (p.frameStart < end) g.append(buf, p.frameStart, end, p.needed);
      return;
    }
  }

  /** One complete request in buf[start, end): route it (its parsed fields are on `this.parser`). */
  protected abstract frame(buf: Buffer, start: number, end: number, gathered: boolean): void;
  /** The reply for a request stream that cannot be resynchronised; the connection closes after it. */
  protected protocolErrorReply(message: string): Uint8Array {
    return this.adapter.protocolError(message);
  }

  /** The reply to a request whose serving threw (code: the incident code in the log). */
  protected internalErrorReply(code: string): Uint8Array {
    return this.adapter.internalError(code);
  }

  /** Hand the gathered frame's buffer away (it is written to a backend without a copy). */
  takeGathered(): Buffer {
    return this.gather.detach();
  }

  private protocolError(message: string): void {
    this.pool.st[P.client_protocol_errors_total]++;
    this.replyLocal(this.protocolErrorReply(message), true);
  }

  /** Queue a request that a backend (or a merge) will answer. */
  enqueue(req: Request): void {
    req.client = this;
    if (this.pinReleasing && (this.pin as BackendConnection).idle) this.unpinConnection();
    req.pin = this.pin;
    req.resp3 = this.resp3;
    req.refs++;
    if (this.tail === null) this.head = req;
    else this.tail.next = req;
    this.tail = req;
    this.queued++;
    this.pool.st[P.requests_in_flight]++;
  }

  /** Answer with bytes the proxy made; they keep their place in the reply order. */
  replyLocal(reply: Uint8Array, closeAfter = false): void {
    const req = acquireRequest(K_CLIENT);
    req.reply = reply;
    req.done = true;
    req.closeAfter = closeAfter;
    req.group = this.localGroup;
    if (closeAfter) this.closing = true;
    this.pool.st[P.requests_local_total]++;
    this.enqueue(req);
    if (this.head === req) this.drain();
  }

  /** Bytes waiting to reach the client: staged here and in the socket. */
  get bufferedBytes(): number {
    return this.out.size + this.socket.writableLength;
  }

  /** A message nobody asked for right now (pub/sub), in its place in the reply order; not counted as a request. */
  pushLocal(message: Uint8Array): void {
    if (this.closing) return;
    const req = acquireRequest(K_CLIENT);
    req.reply = message;
    req.done = true;
    this.enqueue(req);
    if (this.head === req) this.drain();
  }

  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    // A throw here would otherwise end the backend connection's read, and the worker: it closes this client alone.
    try {
      this.deliver(req, buf, start, end);
    } catch (err) {
      this.fault(err);
    }
  }

  private deliver(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (req.dropMode !== 0 && isDropped(req.dropMode, buf, start, end)) {
      req.done = true;
      if (req === this.head) this.drain();
      return;
    }
    if (req === this.head) {
      if (this.adapter.isError(buf, start, end)) this.countError(req);
      this.emit(req, buf, start, end);
      this.pop();
      this.drain();
      return;
    }
    // Earlier requests are still waiting: keep a copy until they are answered.
    const copy = Buffer.allocUnsafe(end - start);
    copy.set(buf.subarray(start, end));
    req.reply = copy;
    req.done = true;
  }

  requestFinished(req: Request): void {
    req.done = true;
    // A merged reply the client asked not to see (memcached noreply / quiet through a quorum on a cluster node).
    const r = req.reply;
    if (req.dropMode !== 0 && r !== null && isDropped(req.dropMode, r, 0, r.length)) req.reply = null;
    if (req !== this.head) return;
    try {
      this.drain();
    } catch (err) {
      this.fault(err);
    }
  }

  /** Stage one reply for the client (peer links prefix it with a frame header). */
  protected emit(_req: Request, buf: Uint8Array, start: number, end: number): void {
    this.out.append(buf, start, end);
  }

  private countError(req: Request): void {
    const pool = this.pool;
    pool.st[P.request_errors_total]++;
    if (req.group >= 0) pool.groupSt[req.group * 2 + 1]++;
  }

  private pop(): void {
    const req = this.head as Request;
    const pool = this.pool;
    pool.st[P.requests_in_flight]--;
    if (req.startedAt !== 0) pool.latency.record((monotonicMs() - req.startedAt) * 1000);
    this.head = req.next;
    if (this.head === null) this.tail = null;
    else if (this.head === this.pinBarrier) {
      // Everything before the first pinned request is answered: the pinned connection may write.
      this.pinBarrier = null;
      (this.pin as BackendConnection).uncork();
    }
    this.queued--;
    if (req.closeAfter) this.closing = true;
    releaseRequest(req);
    // An ended watch: its connection goes back once this client's last request on it is answered.
    if (this.pinReleasing && (this.pin as BackendConnection).idle) this.unpinConnection();
  }

  /** Write every answered request at the head of the queue, in order; a streamed reply at the head writes what it has so far. */
  protected drain(): void {
    let req = this.head;
    while (req !== null) {
      const m = req.merge;
      if (m !== null && m.streams === true) {
        if ((m as StreamingMerge).pump(this, req.done)) this.countError(req);
        if (!req.done) break;
      } else {
        if (!req.done) break;
        const r = req.reply;
        if (r !== null) {
          if (r.length > 0 && this.adapter.isError(r, 0, r.length)) this.countError(req);
          this.emit(req, r, 0, r.length);
        }
      }
      this.pop();
      req = this.head;
    }
    markClientDirty(this);
  }

  /** ReplySink: a streaming merge writes here while its request is at the head of the queue. */
  streamSink(req: Request): ReplySink | null {
    return req === this.head && !this.closed ? this : null;
  }

  write(buf: Uint8Array, start: number, end: number): void {
    this.out.append(buf, start, end);
    markClientDirty(this);
  }

  get socketUnsent(): number {
    return this.socket.writableLength;
  }

  get streamWindow(): number {
    return this.pool.settings.clientMaxBufferedBytes;
  }

  /** The socket took its bytes: reading may resume, and a streamed reply at the head may resume the connections it paused for us. */
  private onDrain(): void {
    this.maybeResume();
    const h = this.head;
    if (h === null || h.done || h.merge === null || h.merge.streams !== true) return;
    try {
      (h.merge as StreamingMerge).pump(this, false);
    } catch (err) {
      this.fault(err);
    }
    afterIo();
  }

  /** A stream of this client stalled for twice the pool's timeout (backend.ts checkTimeout): it is disconnected (counted). */
  streamStalled(): void {
    if (this.closed) return;
    this.pool.st[P.client_output_limit_disconnects_total]++;
    this.socket.destroy();
    this.onClose();
  }

  flush(): void {
    try {
      this.flushOut();
    } catch (err) {
      this.fault(err);
    }
  }

  private flushOut(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    this.pool.st[P.client_bytes_out_total] += this.out.size;
    this.out.flush(this.socket, this.queued === 0);
    if ((this.softSince !== 0 || this.socket.writableLength > this.replySoftLimit) && this.overReplyLimit()) return;
    if (this.closing && this.head === null) {
      this.endSocket();
      return;
    }
    if (this.paused) this.maybeResume();
  }

  /** Since when unsent replies stayed above the soft limit (0: they are below it). */
  private softSince = 0;

  private get replySoftLimit(): number {
    const s = this.pool.settings;
    const soft = s.clientReplySoftLimit > 0 ? s.clientReplySoftLimit : Infinity;
    return s.clientReplyHardLimit > 0 ? Math.min(soft, s.clientReplyHardLimit) : soft;
  }

  /**
   * Redis' client-output-buffer-limit: unsent replies past the hard limit, or past the soft one for the soft seconds, disconnect the
   * client (counted), so one that does not read cannot grow the process without bound. True when it was disconnected.
   */
  private overReplyLimit(): boolean {
    const s = this.pool.settings;
    const unsent = this.socket.writableLength + this.out.size;
    const now = monotonicMs();
    let over = s.clientReplyHardLimit > 0 && unsent > s.clientReplyHardLimit;
    if (!over && s.clientReplySoftLimit > 0 && unsent > s.clientReplySoftLimit) {
      if (this.softSince === 0) this.softSince = now;
      else over = now - this.softSince >= s.clientReplySoftSeconds * 1000;
    } else if (!over) this.softSince = 0;
    if (!over) return false;
    this.pool.st[P.client_output_limit_disconnects_total]++;
    this.socket.destroy();
    this.onClose();
    return true;
  }

  /** Stop reading a client that has too much in flight or does not read its replies. */
  private checkPressure(): void {
    if (this.paused || this.closed) return;
    const s = this.pool.settings;
    if (this.queued >= s.clientMaxInflight || this.socket.writableLength >= s.clientMaxBufferedBytes) {
      this.paused = true;
      this.pool.st[P.client_paused_total]++;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused || this.closed) return;
    const s = this.pool.settings;
    if (this.queued <= s.clientMaxInflight >> 1 && this.socket.writableLength < s.clientMaxBufferedBytes >> 1) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onEnd(): void {
    // Half-close: answer what was asked (redis-cli --pipe closes its side first), then close.
    this.closing = true;
    if (this.head === null) this.endSocket();
  }

  /** Stop serving: answer what is in flight, then close (graceful shutdown, a refused peer). Later bytes are dropped unread. */
  drainAndClose(): void {
    this.closing = true;
    if (this.head === null) this.endSocket();
  }

  /**
   * Our FIN after the last reply. The socket keeps reading (onData drops the bytes): only reading the peer's FIN closes it and frees
   * its slot under the listener's maxConnections; a paused socket ended here stayed open for good. A peer that never closes its
   * side is cut END_GRACE_MS after our FIN went out.
   */
  private endSocket(): void {
    const socket = this.socket;
    if (socket.writableEnded) return;
    socket.resume();
    socket.end();
    socket.once('finish', () => setTimeout(() => socket.destroy(), END_GRACE_MS).unref());
  }

  /**
   * From now on requests for conn's server go on conn. `first`, just queued, is the first of them: conn writes nothing until every
   * request queued before it was answered (the client's order holds across the shared and the pinned connection).
   */
  pinConnection(conn: BackendConnection, first: Request): void {
    this.pin = conn;
    this.pinReleasing = false;
    if (this.head !== first) {
      conn.cork();
      this.pinBarrier = first;
    }
  }

  /** Let the pin go: at once when nothing of this client is on it (or the client left), else once that is answered. */
  unpinConnection(now = false): void {
    const pin = this.pin;
    if (pin === null) return;
    if (!now && !pin.idle && !this.closed) {
      this.pinReleasing = true;
      return;
    }
    this.pin = null;
    this.pinReleasing = false;
    if (this.pinBarrier !== null) {
      this.pinBarrier = null;
      pin.uncork();
    }
    pin.server.unpin(pin, true);
  }

  /** Drop protocol state (transactions ...) when the connection closes. */
  protected onClosed(): void {}

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    // Requests still at a backend stay in its in-flight list; they only lose their client.
    let req = this.head;
    while (req !== null) {
      const next = req.next;
      // A blocking call still waiting must not complete for nobody (a BLPOP would pop an element no one receives): its connection closes.
      if (req.blockMs >= 0 && !req.done && req.pin !== null) (req.pin as BackendConnection).abandon();
      cancelRequest(req);
      req.next = null;
      releaseRequest(req);
      req = next;
    }
    this.head = this.tail = null;
    this.pool.st[P.requests_in_flight] -= this.queued;
    this.queued = 0;
    this.onClosed();
    this.gather.clear();
    this.out.drop();
    this.parser.reset();
    this.pool.clientClosed(this);
  }
}
