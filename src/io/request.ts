// Request: one client request (or one piece of a split request) on its way through a worker; pooled.
// Never holds a reference to a socket read buffer after the read callback returns: replies kept for later are copies.
import { F_NONE, F_ERROR_REPLY } from '../protocol/failure/index.ts';
import { S_REPLICA_FAILURES } from '../stats/index.ts';

/** Reply goes to the client connection in request order. */
export const K_CLIENT = 0;
/** Reply is one piece of a split request; the parent merges. */
export const K_PART = 1;
/** Reply is consumed by the proxy itself (backend AUTH on connect). */
export const K_INTERNAL = 2;
/** A parent of pieces; never sent to a backend itself. */
export const K_COMPOSITE = 3;
/** Reply is dropped (the MULTI and +QUEUED answers of a transaction sent at EXEC). */
export const K_INTERNAL_DISCARD = 4;
/** A replica write nobody waits for: its reply is dropped, but a failure is counted on `replicaSt` by code. */
export const K_REPLICA = 5;

/** Reply dropping for memcached requests sent without their noreply / q (so every request gets a reply). */
export const DROP_NONE = 0;
/** Classic `noreply`: the client sees nothing at all. */
export const DROP_ALL = 1;
/** Meta `q` on mg: a miss (EN) is not shown. */
export const DROP_EN = 2;
/** Meta `q` on ms/md: HD is not shown. */
export const DROP_HD = 3;
/** Meta `q` on ma: HD (and a VA value reply) is not shown. */
export const DROP_HD_VA = 4;

/** Whether a reply is one the client asked not to see. */
export function isDropped(mode: number, buf: Uint8Array, start: number, end: number): boolean {
  if (mode === DROP_ALL) return true;
  if (end - start < 4) return false;
  const a = buf[start];
  const b = buf[start + 1];
  const c = buf[start + 2];
  const sep = c === 0x20 || c === 0x0d;
  if (mode === DROP_EN) return a === 0x45 && b === 0x4e && sep;
  if (mode === DROP_HD) return a === 0x48 && b === 0x44 && sep;
  return sep && ((a === 0x48 && b === 0x44) || (a === 0x56 && b === 0x41));
}

/** What a client connection offers the request path. */
export interface ClientSession {
  readonly closed: boolean;
  /** A reply for `req` arrived (bytes valid only during the call). */
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void;
  /** `req` finished with a reply already stored in it (`req.reply`). */
  requestFinished(req: Request): void;
  /** Where a streaming merge writes `req`'s reply bytes now: the client when `req` is at the head of its queue, else null. */
  streamSink?(req: Request): ReplySink | null;
  /** A stream waited on this client for too long (it does not read its replies): disconnect it (counted). */
  streamStalled?(): void;
}

/** A client's side of a streamed reply (client-connection.ts): bytes written in place, in the client's reply order. */
export interface ReplySink {
  /** Stage reply bytes of the request at the head of the queue (valid only during the call). */
  write(buf: Uint8Array, start: number, end: number): void;
  /** How many out-of-order bytes a stream may hold before the connections that ran ahead stop reading (and unsent bytes: see UNIT_SLOW). */
  readonly streamWindow: number;
  /**
   * Bytes the socket holds unsent (not counting what is staged for this I/O callback's flush): past the window a stream pauses, and
   * only then, since the socket then owes a 'drain' event that resumes it (staged bytes the kernel takes at once would owe none).
   */
  readonly socketUnsent: number;
}

/** deliverUnit's answers: go on reading; stop (the piece ran ahead of the key order); stop unless another request waits on the connection (slow client). */
export const UNIT_GO = 0;
export const UNIT_AHEAD = 1;
export const UNIT_SLOW = 2;

/** A backend connection a streaming merge stopped reading (backpressure); resumed once the merge has room. */
export interface Pausable {
  resumeReading(): void;
}

/**
 * A merge that writes its reply while the pieces' replies arrive (split MGET / multi-get), in key order: the backend hands it each
 * unit of a piece's reply (an array element, a VALUE item) as it completes; part() still ends each piece (with its terminal bytes, or
 * the whole reply when it was not streamed: a peer's, an error). finish() is empty: the client pumps the merge instead.
 */
export interface StreamingMerge extends Merge {
  readonly streams: true;
  /** Its composite request (set by newComposite). */
  request: Request | null;
  /** One unit of piece `index`'s reply; UNIT_AHEAD / UNIT_SLOW when `from` should stop reading for now (the merge resumes it). */
  unit(index: number, buf: Uint8Array, start: number, end: number, from: Pausable): number;
  /** The client is at this request: write what is in order (everything, when `done`); when done, true if the reply counts as an error. */
  pump(sink: ReplySink, done: boolean): boolean;
  /** The client left: held bytes dropped, paused connections resumed. */
  cancel(): void;
  /** How long (ms) nothing moved while a connection waits paused for this merge; giveUp() disconnects the client that stalls it. */
  stalledFor(now: number): number;
  giveUp(): void;
}

/** Merges the replies of a split request's pieces into one client reply. */
export interface Merge {
  part(index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void;
  /** Called once every piece has answered (or once `decided`): the merged reply bytes. */
  finish(): Uint8Array;
  /** Quorum: the answer is known before every piece replied; the client gets it at once. */
  readonly decided?: boolean;
  /**
   * part() does work beyond merging (a memcached cas that stored is then replicated): it still sees every piece after the
   * request was answered or cancelled. Other merges see no piece after that (no copies for a client that left or a quorum decided).
   */
  readonly hasSideEffects?: boolean;
  /** A StreamingMerge. */
  readonly streams?: boolean;
}

/** A backend connection held by one client (backend.ts BackendConnection, taken with BackendServer.pin). */
export interface PinnedConnection {
  readonly closed: boolean;
}

export class Request {
  kind = K_CLIENT;
  client: ClientSession | null = null;
  /** Next request of the same client, in the client's order. */
  next: Request | null = null;
  done = false;
  /** A reply stored because earlier requests of the client were not answered yet. */
  reply: Uint8Array | null = null;
  parent: Request | null = null;
  partIndex = 0;
  merge: Merge | null = null;
  pending = 0;
  /** When the bytes were handed to a backend connection (ms, monotonic). */
  sentAt = 0;
  /** Owners still holding it: the client queue, a backend connection's in-flight list, a parent. */
  refs = 0;
  /** Close the client connection once this reply is written (QUIT, protocol errors). */
  closeAfter = false;
  /** When the client's request was parsed (ms, monotonic); 0 for replies the proxy makes itself. */
  startedAt = 0;
  /** Command family index (stats), -1 when not counted. */
  group = -1;
  /** What reply the backend will send (memcached's scanner needs it: a get reply ends at END). */
  replyKind = 0;
  /** Replies the client must not see (memcached noreply / meta quiet mode): a DROP_* constant. */
  dropMode = 0;
  /** Peer links: the dnode message id it went out with, and whether it is a write handed to another datacenter. */
  msgId = 0;
  forwardDc = false;
  /** A split request already answered its client (quorum reached before every piece replied). */
  answered = false;
  /** Why it failed (protocol/failures.ts F_*), set by whoever failed it before the error reply is delivered; F_NONE otherwise. */
  failure = F_NONE;
  /** K_REPLICA: the target's stats block, where a failure is counted by code. */
  replicaSt: Float64Array | null = null;
  /**
   * A read that may fail over (read-failover.ts): a copy of its bytes in a pooled buffer, and the route's state (which
   * replica it is on). An error reply then goes to the failover handler first, which may resend it instead.
   */
  retryBuf: Buffer | null = null;
  retryLen = 0;
  retryHash = 0;
  retryAttempt = 0;
  retryRoute: unknown = null;
  /**
   * K_REPLICA with hinted handoff: the target's hint queue (hints/ HintQueue; null: not hinted), and for a hint being
   * replayed its sequence number (0: a fresh replica write, whose bytes may be in retryBuf). A K_CLIENT write kept for write
   * failover (routing/read-failover.ts retainWrite) carries the runtime's hints here, which marks it a write.
   */
  hintQueue: unknown = null;
  hintSeq = 0;
  /**
   * The client's pinned backend connection (WATCH): a request for that connection's server goes on it, never on a shared one,
   * so the watch sees the client's own commands in order. Set by the client's enqueue, inherited by a split's parts; usually null.
   */
  pin: PinnedConnection | null = null;
  /** A blocking command (BLPOP ...): how long it may block in ms (0: forever), -1 otherwise. It gets a connection of its own. */
  blockMs = -1;
  /** The client speaks RESP3 (HELLO 3): its datastore replies come from RESP3 connections, and peers are asked for RESP3 replies. */
  resp3 = false;
  /** A piece of a StreamingMerge: a backend that can hands its reply over unit by unit (deliverUnit). */
  stream = false;
}

/** Requests of at most this many bytes can fail over after they were sent (their bytes are kept in a pooled buffer). */
export const RETRY_MAX_BYTES = 4096;
/** Two size classes, so the common small read keeps 256 bytes, not 4 KiB, per request in flight. */
const SMALL_RETRY_BYTES = 256;
const smallRetryBufs: Buffer[] = [];
const retryBufs: Buffer[] = [];

const copyBytes = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** Keep a copy of a request's bytes for a resend (a pooled buffer: no allocation per request once warm). */
export function retainBytes(req: Request, src: Uint8Array, start: number, end: number): void {
  const small = end - start <= SMALL_RETRY_BYTES;
  const b = (small ? smallRetryBufs.pop() : retryBufs.pop()) ?? Buffer.allocUnsafeSlow(small ? SMALL_RETRY_BYTES : RETRY_MAX_BYTES);
  // No subarray view (an object per request): a short request is copied by hand, a longer one natively.
  if (end - start <= 64) for (let i = start, o = 0; i < end; i++, o++) b[o] = src[i];
  else copyBytes.call(src, b, 0, start, end);
  req.retryBuf = b;
  req.retryLen = end - start;
}

/** Hinted handoff's reply handler (routing/hints.ts): every reply to a K_REPLICA request that carries a hint queue. */
type HintHandler = (req: Request, buf: Uint8Array, start: number, end: number, isError: boolean) => void;
let hintHandler: HintHandler | null = null;

export function setHintHandler(h: HintHandler): void {
  hintHandler = h;
}

type FailoverHandler = (req: Request, buf: Uint8Array, start: number, end: number) => boolean;
let failoverHandler: FailoverHandler | null = null;

/** Who decides whether an error reply to a retained request is resent elsewhere (true: resent, not delivered). */
export function setFailoverHandler(h: FailoverHandler): void {
  failoverHandler = h;
}

const free: Request[] = [];
let allocated = 0;

export function acquireRequest(kind: number): Request {
  const r = free.pop() ?? (allocated++, new Request());
  r.kind = kind;
  return r;
}

export function releaseRequest(r: Request): void {
  if (--r.refs > 0) return;
  r.client = null;
  r.next = null;
  r.done = false;
  r.reply = null;
  r.parent = null;
  r.merge = null;
  r.pending = 0;
  r.closeAfter = false;
  r.startedAt = 0;
  r.group = -1;
  r.replyKind = 0;
  r.dropMode = 0;
  r.msgId = 0;
  r.forwardDc = false;
  r.answered = false;
  r.failure = F_NONE;
  r.replicaSt = null;
  r.hintQueue = null;
  r.hintSeq = 0;
  r.pin = null;
  r.blockMs = -1;
  r.resp3 = false;
  r.stream = false;
  if (r.retryBuf !== null) {
    const b = r.retryBuf;
    if (b.length === SMALL_RETRY_BYTES) {
      if (smallRetryBufs.length < 4096) smallRetryBufs.push(b);
    } else if (retryBufs.length < 1024) retryBufs.push(b);
    r.retryBuf = null;
    r.retryRoute = null;
  }
  if (free.length < 65536) free.push(r);
}

export function requestPoolStats(): { allocated: number; free: number } {
  return { allocated, free: free.length };
}

/**
 * Deliver one backend reply to whoever waits for it. The bytes are valid only during the call.
 * The backend's reference to `req` is dropped here.
 */
export function deliverReply(req: Request, buf: Uint8Array, start: number, end: number, isError: boolean): void {
  switch (req.kind) {
    case K_CLIENT: {
      const c = req.client;
      // An error for a read that can fail over: the handler may send it to the next replica instead (it took its own reference).
      if (isError && req.retryBuf !== null && c !== null && !c.closed && failoverHandler !== null && failoverHandler(req, buf, start, end)) break;
      if (c !== null && !c.closed) c.replyArrived(req, buf, start, end);
      break;
    }
    case K_PART: {
      const p = req.parent as Request;
      const m = p.merge;
      if (m !== null && (!p.answered || m.hasSideEffects === true)) m.part(req.partIndex, buf, start, end, isError);
      p.pending--;
      if (!p.answered && (p.pending === 0 || m?.decided === true)) answerComposite(p);
      // The pieces' collective reference.
      if (p.pending === 0) releaseRequest(p);
      break;
    }
    case K_REPLICA:
      if (isError && req.replicaSt !== null) req.replicaSt[S_REPLICA_FAILURES + (req.failure === F_NONE ? F_ERROR_REPLY : req.failure)]++;
      if (req.hintQueue !== null && hintHandler !== null) hintHandler(req, buf, start, end, isError);
      break;
    default:
      break;
  }
  releaseRequest(req);
}

/**
 * One unit of a streamed piece's reply (bytes valid only during the call); the piece still ends with deliverReply. UNIT_AHEAD /
 * UNIT_SLOW when the connection `from` should stop reading until the merge resumes it.
 */
export function deliverUnit(req: Request, buf: Uint8Array, start: number, end: number, from: Pausable): number {
  const p = req.parent as Request;
  const m = p.merge;
  if (m === null || p.answered) return UNIT_GO;
  return (m as StreamingMerge).unit(req.partIndex, buf, start, end, from);
}

/**
 * cancel() of a request whose client is gone: a split request's pieces still at backends are drained without being merged
 * (its merge, and the copies it holds, are let go at once), unless the merge has side effects that must still happen.
 */
export function cancelRequest(req: Request): void {
  req.client = null;
  if (req.kind !== K_COMPOSITE) return;
  req.answered = true;
  const m = req.merge;
  if (m !== null && m.streams === true) (m as StreamingMerge).cancel();
  if (m !== null && m.hasSideEffects !== true) req.merge = null;
}

/** Build the merged reply and hand it to the client in order (once). */
function answerComposite(p: Request): void {
  p.answered = true;
  const c = p.client;
  if (c !== null && !c.closed) {
    p.reply = (p.merge as Merge).finish();
    c.requestFinished(p);
  }
}

/** Fail a request before it was sent (peer down, no connection, queue full): its failure code, then the error reply. */
export function failRequest(req: Request, failure: number, reply: Uint8Array): void {
  req.failure = failure;
  completeLocally(req, reply, true);
}

/** Complete a request with a reply the proxy made (errors, local answers). */
export function completeLocally(req: Request, reply: Uint8Array, isError = reply[0] === 0x2d): void {
  // Stands in for the backend's reference, which deliverReply drops.
  req.refs++;
  deliverReply(req, reply, 0, reply.length, isError);
}

/** A split request's parent, queued in its client's reply order; `pieces` is how many parts will answer. */
export function newComposite(client: { enqueue(req: Request): void }, merge: Merge, pieces: number, group: number, now: number): Request {
  const parent = acquireRequest(K_COMPOSITE);
  parent.merge = merge;
  parent.pending = pieces;
  // The pieces' collective reference (dropped when the last one answered).
  parent.refs = 1;
  parent.startedAt = now;
  parent.group = group;
  if (merge.streams === true) (merge as StreamingMerge).request = parent;
  client.enqueue(parent);
  return parent;
}

/** One piece of a split request; its reply goes to the parent's merge. */
export function newPart(parent: Request, index: number, replyKind = 0): Request {
  const child = acquireRequest(K_PART);
  child.parent = parent;
  child.partIndex = index;
  child.pin = parent.pin;
  child.resp3 = parent.resp3;
  child.replyKind = replyKind;
  child.stream = parent.merge !== null && parent.merge.streams === true;
  return child;
}
