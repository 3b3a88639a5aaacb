// Hinted handoff in a data worker: replica writes this worker could not deliver (target down, ring full, "not stored" reply) kept per target, and replayed in order once it is up.
// Never hints an ambiguous failure (a timeout or lost connection after sending: the write may have applied); never lets a new write to a target overtake its hints.
import { acquireRequest, monotonicMs, setHintHandler, K_REPLICA, type Request } from '../../io/index.ts';
import { F_NONE } from '../../protocol/failure/index.ts';
import { S, S_PEER } from '../../stats/index.ts';
import { PEER_DATASTORE_DOWN } from '../../peer/index.ts';
import { HintStore, type HintLimits, type HintQueue, type HintSink } from './hint-store.ts';
import { HintFiles, type HintPersistence } from './hint-persist.ts';
import type { HintsEvent } from '../../messages.ts';
import type { ClusterRuntime, HintRouting } from './cluster-runtime.ts';

/** Replies from a replica that mean the write was not stored there: its datastore is down, or its state refuses writes. */
const NOT_STORED = [Buffer.from('-ERR Storage:'), Buffer.from("-ERR Dynomite: Dynomite's current state")];
/** Replay throttle: hints on the wire at once per target (one connection, so they apply in order), and per pool tick. */
export const REPLAY_BATCH = 64;
export const REPLAY_PER_TICK = 2048;
/** Drops are logged at most this often per worker (the counters show every one). */
const REPORT_INTERVAL_MS = 5000;

function notStored(buf: Uint8Array, start: number, end: number): boolean {
  outer: for (const p of NOT_STORED) {
    if (end - start < p.length) continue;
    for (let i = 0; i < p.length; i++) if (buf[start + i] !== p[i]) continue outer;
    return true;
  }
  return false;
}


/** One pool's hints in this worker: the store, the view's queues by node index, the replay driver and the figures. */
export class Hints implements HintSink, HintRouting {
  readonly store: HintStore;
  /** By node index of the runtime's view: the node's queue (null: this node). */
  byNode: (HintQueue | null)[] = [];
  persistence: HintPersistence | null = null;
  private readonly cl: ClusterRuntime;
  private readonly report: (e: HintsEvent) => void;
  /** Peer stats blocks by identity (the links'), for the per-target figures. */
  private readonly stOf = new Map<string, Float64Array>();
  private readonly pendingDrops = new Map<string, { count: number; reason: string }>();
  private lastReport = 0;
  /** The bytes of the replica write being sent (a failure before it left is delivered synchronously, inside send). */
  private syncBytes: Uint8Array | null = null;
  private syncStart = 0;
  private syncEnd = 0;

  constructor(cl: ClusterRuntime, limits: HintLimits, report: (e: HintsEvent) => void) {
    this.cl = cl;
    this.report = report;
    this.store = new HintStore(limits, this);
    setHintHandler(onHintReply);
    this.relink();
  }

  /**
   * Keep hints in `dir` (hints_dir): first load this worker's files (a corrupt tail: the good prefix kept, the rest counted
   * and logged), then append every new hint. `worker`/`workers`: this data worker's number and how many there are.
   */
  persistTo(dir: string, pool: string, worker: number, workers: number): void {
    const files = new HintFiles(dir, pool, worker, this.report);
    files.load(this.store, workers, monotonicMs(), Date.now());
    for (const q of this.store.queues.values()) this.queued(q.id, q.count);
    this.persistence = files;
  }

  /** The view changed (or at start): queues follow node identities. */
  relink(): void {
    const cl = this.cl;
    const view = cl.view;
    for (const q of this.store.queues.values()) q.node = -1;
    this.byNode = view.nodes.map((n, i) => {
      const link = cl.links[i];
      if (n.local || link === null || link === undefined) return null;
      this.stOf.set(n.id, link.st);
      const q = this.store.queue(n.id);
      q.node = i;
      return q;
    });
  }

  /** Keep a copy of `bytes[start, end)` as a hint for `q`'s target (appended after its older hints). Returns whether kept. */
  hold(q: HintQueue, bytes: Uint8Array, start: number, end: number, forward: boolean): boolean {
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(start, end));
    return this.store.add(q, copy, forward, monotonicMs());
  }

  /** Around a replica write's send: its bytes while a synchronous failure may need them. */
  sending(bytes: Uint8Array | null, start: number, end: number): void {
    this.syncBytes = bytes;
    this.syncStart = start;
    this.syncEnd = end;
  }

  /** A reply (or failure) to a replica write that carries a hint queue. */
  onReply(req: Request, q: HintQueue, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (req.hintSeq > 0) return this.replayReply(q, req.hintSeq, isError);
    if (!isError) return;
    if (req.sentAt === 0) {
      // It never left this worker (no connection, backoff): the bytes are at hand whatever their size.
      if (req.retryBuf !== null) this.hold(q, req.retryBuf, 0, req.retryLen, req.forwardDc);
      else if (this.syncBytes !== null) this.hold(q, this.syncBytes, this.syncStart, this.syncEnd, req.forwardDc);
      return;
    }
    // A timeout or a lost connection after sending is ambiguous (an INCR may have applied): counted, not hinted.
    if (req.failure !== F_NONE || !notStored(buf, start, end)) return;
    if (req.retryBuf !== null) this.hold(q, req.retryBuf, 0, req.retryLen, req.forwardDc);
    else this.dropped(q.id, 1, 'not stored by the peer and too large to keep after sending');
  }

  /** Pool timer: expire old hints, start replays to targets that are up, log drops (rate-limited). */
  tick(now: number): void {
    if (this.pendingDrops.size > 0 && now - this.lastReport >= REPORT_INTERVAL_MS) this.flushReports(now);
    this.persistence?.flush();
    const store = this.store;
    if (store.count === 0) return;
    store.expire(now);
    const cl = this.cl;
    cl.current();
    const states = cl.states;
    for (const q of store.queues.values()) {
      if (q.count === 0 || q.inFlight > 0 || q.node < 0 || cl.isDown(q.node)) continue;
      // A node up whose datastore is down would refuse them all: wait for the detector to see it serving.
      if (states !== null && states.state(q.node) === PEER_DATASTORE_DOWN) continue;
      // After a failed replay, one hint probes the target before a full tick's worth goes out again.
      q.budget = q.failed ? 1 : REPLAY_PER_TICK;
      q.failed = false;
      this.sendBatch(q);
    }
  }

  /** The next hints of `q` on one connection of its link, in order. */
  private sendBatch(q: HintQueue): void {
    const link = this.cl.links[q.node];
    if (link === null || link === undefined) return;
    const conn = link.pick(monotonicMs());
    if (conn === null) return;
    const n = Math.min(q.count, REPLAY_BATCH, q.budget);
    q.budget -= n;
    q.inFlight = n;
    for (let i = 0; i < n; i++) {
      const req = acquireRequest(K_REPLICA);
      req.forwardDc = q.forwardAt(i);
      req.replicaSt = link.st;
      req.hintQueue = q;
      req.hintSeq = q.seqAt(i);
      link.st[S.replica_writes_total]++;
      const b = q.bytesAt(i);
      conn.send(req, b, 0, b.length);
    }
  }

  private replayReply(q: HintQueue, seq: number, isError: boolean): void {
    if (q.inFlight > 0) q.inFlight--;
    // Down again (or its datastore): stop; the rest waits for a later tick (a probe first).
    if (isError) q.failed = true;
    // A hint dropped by a bound while on the wire leaves a reply with no head to remove.
    else if (q.count > 0 && q.seqAt(0) === seq) this.store.delivered(q);
    // The batch done: the next one, within this tick's budget (a probe's budget is spent: full pace from the next tick).
    if (q.inFlight === 0 && !q.failed && q.count > 0 && q.budget > 0) this.sendBatch(q);
  }


  // HintSink: the per-target figures in the peer's stats block, drops for the log, appends and truncations for the file.
  queued(id: string, count: number): void {
    const st = this.stOf.get(id);
    if (st !== undefined) st[S_PEER.hints_queued] = count;
  }

  replayed(id: string, n: number): void {
    const st = this.stOf.get(id);
    if (st !== undefined) st[S_PEER.hints_replayed_total] += n;
  }

  dropped(id: string, n: number, reason: string): void {
    const st = this.stOf.get(id);
    if (st !== undefined) st[S_PEER.hints_dropped_total] += n;
    const p = this.pendingDrops.get(id);
    if (p === undefined) this.pendingDrops.set(id, { count: n, reason });
    else {
      p.count += n;
      p.reason = reason;
    }
  }

  appended(q: HintQueue, bytes: Uint8Array, forward: boolean, at: number): void {
    this.persistence?.appended(q, bytes, forward, at);
  }

  removed(q: HintQueue): void {
    this.persistence?.removed(q);
  }

  emptied(q: HintQueue): void {
    this.persistence?.emptied(q);
  }

  private flushReports(now: number): void {
    this.lastReport = now;
    for (const [target, p] of this.pendingDrops) this.report({ target, what: 'dropped', count: p.count, reason: p.reason });
    this.pendingDrops.clear();
  }
}

function onHintReply(req: Request, buf: Uint8Array, start: number, end: number, isError: boolean): void {
  const q = req.hintQueue as HintQueue;
  (q.store.sink as Hints).onReply(req, q, buf, start, end, isError);
}
