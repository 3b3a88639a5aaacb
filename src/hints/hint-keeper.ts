// HintKeeper: one thread's hinted handoff over its own links — what becomes a hint, the in-order replay once a target is back, the figures.
// Used by data workers (proxy/routing/hints.ts) and by the cluster worker (its remote-DC writes). Never hints a non-idempotent write after
// an ambiguous failure (a timeout or lost connection after sending: it may have applied); never lets a new write overtake a target's hints.
import { acquireRequest, monotonicMs, setHintHandler, K_REPLICA, type BackendServer, type Request } from '../io/index.ts';
import { F_NONE } from '../protocol/failure/index.ts';
import { S, S_PEER } from '../stats/index.ts';
import { HintStore, type HintLimits, type HintQueue, type HintSink } from './hint-store.ts';
import { HintFiles, type HintPersistence } from './hint-persist.ts';
import type { HintWords } from './hint-words.ts';
import type { HintsEvent } from '../messages.ts';

/** Replay throttle: hints on the wire at once per target (one connection, so they apply in order), and per tick. */
export const REPLAY_BATCH = 64;
export const REPLAY_PER_TICK = 2048;
/** Drops are logged at most this often per thread (the counters show every one). */
const REPORT_INTERVAL_MS = 5000;

/** Where replays go: the owner's links and its view of the targets' states. */
export interface HintTargets {
  /** The link to view node `node` (null: none). */
  linkOf(node: number): BackendServer | null;
  /** Whether a replay to `node` may start now: the node is up and its datastore serving. */
  ready(node: number): boolean;
}

export class HintKeeper implements HintSink {
  readonly store: HintStore;
  persistence: HintPersistence | null = null;
  private readonly targets: HintTargets;
  private readonly words: HintWords;
  private readonly report: (e: HintsEvent) => void;
  /** Peer stats blocks by identity (the links'), for the per-target figures. */
  private readonly stOf = new Map<string, Float64Array>();
  private readonly pendingDrops = new Map<string, { count: number; reason: string }>();
  private lastReport = 0;
  /** The bytes of the replica write being sent (a failure before it left is delivered synchronously, inside send). */
  private syncBytes: Uint8Array | null = null;
  private syncStart = 0;
  private syncEnd = 0;

  constructor(targets: HintTargets, limits: HintLimits, words: HintWords, report: (e: HintsEvent) => void) {
    this.targets = targets;
    this.words = words;
    this.report = report;
    this.store = new HintStore(limits, this);
    setHintHandler(onHintReply);
  }

  /**
   * Keep hints in `dir` (hints_dir): first load this thread's files (a corrupt tail: the good prefix kept, the rest counted
   * and logged), then append every new hint. `worker`/`workers`: this data worker's number and how many there are;
   * `family`: 'w' for data workers, 'c' for the cluster worker.
   */
  persistTo(dir: string, pool: string, worker: number, workers: number, family = 'w'): void {
    const files = new HintFiles(dir, pool, worker, this.report, family);
    files.load(this.store, workers, monotonicMs(), Date.now());
    for (const q of this.store.queues.values()) this.queued(q.id, q.count);
    this.persistence = files;
  }

  /** Every queue leaves the view (before attach() for the nodes of a new one). */
  detachAll(): void {
    for (const q of this.store.queues.values()) q.node = -1;
  }

  /** The queue of the node with identity `id`, now at view index `node`; its figures go to `st` (its link's stats block). */
  attach(id: string, node: number, st: Float64Array): HintQueue {
    this.stOf.set(id, st);
    const q = this.store.queue(id);
    q.node = node;
    st[S_PEER.hints_queued] = q.count;
    return q;
  }

  /** Keep a copy of `bytes[start, end)` as a hint for `q`'s target (appended after its older hints). Returns whether kept. */
  hold(q: HintQueue, bytes: Uint8Array, start: number, end: number, forward: boolean): boolean {
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(start, end));
    return this.store.add(q, copy, forward, monotonicMs());
  }

  /** Whether a write is safe to apply twice (the protocol's words): it may be hinted, or failed over, after an ambiguous failure. */
  idempotent(buf: Uint8Array, start: number, end: number): boolean {
    return this.words.idempotent(buf, start, end);
  }

  /** Around a replica write's send: its bytes while a synchronous failure may need them. */
  sending(bytes: Uint8Array | null, start: number, end: number): void {
    this.syncBytes = bytes;
    this.syncStart = start;
    this.syncEnd = end;
  }

  /** A reply (or failure) to a replica write that carries a hint queue. */
  onReply(req: Request, q: HintQueue, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (req.hintSeq > 0) return this.replayReply(q, req.hintSeq, req.failure !== F_NONE || (isError && this.words.notStored(buf, start, end)));
    if (!isError) return;
    if (req.sentAt === 0) {
      // It never left this thread (no connection, backoff): the bytes are at hand whatever their size.
      if (req.retryBuf !== null) this.hold(q, req.retryBuf, 0, req.retryLen, req.forwardDc);
      else if (this.syncBytes !== null) this.hold(q, this.syncBytes, this.syncStart, this.syncEnd, req.forwardDc);
      return;
    }
    if (req.failure !== F_NONE) {
      // A timeout or a lost connection after sending is ambiguous (an INCR may have applied): only a write safe to apply twice is hinted.
      if (req.retryBuf !== null && this.words.idempotent(req.retryBuf, 0, req.retryLen)) this.hold(q, req.retryBuf, 0, req.retryLen, req.forwardDc);
      return;
    }
    if (!this.words.notStored(buf, start, end)) return;
    if (req.retryBuf !== null) this.hold(q, req.retryBuf, 0, req.retryLen, req.forwardDc);
    else this.dropped(q.id, 1, 'not stored by the peer and too large to keep after sending');
  }

  /** Timer: expire old hints, start replays to targets that are ready, log drops (rate-limited). */
  tick(now: number): void {
    if (this.pendingDrops.size > 0 && now - this.lastReport >= REPORT_INTERVAL_MS) this.flushReports(now);
    this.persistence?.flush();
    const store = this.store;
    if (store.count === 0) return;
    store.expire(now);
    for (const q of store.queues.values()) {
      if (q.count === 0 || q.inFlight > 0 || q.node < 0 || !this.targets.ready(q.node)) continue;
      // After a failed replay, one hint probes the target before a full tick's worth goes out again.
      q.budget = q.failed ? 1 : REPLAY_PER_TICK;
      q.failed = false;
      this.sendBatch(q);
    }
  }

  /** The next hints of `q` on one connection of its link, in order. */
  private sendBatch(q: HintQueue): void {
    const link = this.targets.linkOf(q.node);
    if (link === null) return;
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

  /** `failed`: the target did not store it (down again, or its datastore); any other answer (WRONGTYPE, NOT_STORED) delivers it. */
  private replayReply(q: HintQueue, seq: number, failed: boolean): void {
    if (q.inFlight > 0) q.inFlight--;
    // Stop; the rest waits for a later tick (a probe first).
    if (failed) q.failed = true;
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
  (q.store.sink as HintKeeper).onReply(req, q, buf, start, end, isError);
}
