// Server-side read failover: a DC_ONE read whose owner is down, or answers that its datastore is, goes to the next replica that
// replicasFor yields (the other local racks, then remote DCs), within twice the pool's timeout; so does a DC_ONE write safe to apply
// twice (retainWrite), whose failed owner gets it as a hint. Never retries a write that is not idempotent, never answers twice.
import { SCOPE_ALL, TIER_SHADOW, type ReplicaSet } from '../../topology/index.ts';
import { F_CONNECTION, F_NO_BACKEND, F_NONE, F_PEER_DOWN, F_QUEUE_FULL, F_TIMEOUT } from '../../protocol/failure/index.ts';
import { P } from '../../stats/index.ts';
import { retainBytes, setFailoverHandler, RETRY_MAX_BYTES, type BackendServer, type Request, monotonicMs } from '../../io/index.ts';
import type { ClusterRuntime, HintRouting } from './cluster-runtime.ts';
import { failUnroutable, type ClusterWords } from './cluster-words.ts';


/**
 * Error replies from a replica that mean "not served here, the data may be elsewhere" (its datastore is down, or its state refuses),
 * in RESP's and memcached's words: a reply of one protocol never starts like the other's.
 */
const NOT_SERVED = [
  Buffer.from('-ERR Storage:'), Buffer.from('-ERR Peer:'), Buffer.from("-ERR Dynomite: Dynomite's current state"),
  Buffer.from('SERVER_ERROR Storage:'), Buffer.from('SERVER_ERROR Peer:'), Buffer.from("SERVER_ERROR Dynomite: Dynomite's current state"),
];

function startsWith(buf: Uint8Array, start: number, end: number, p: Buffer): boolean {
  if (end - start < p.length) return false;
  for (let i = 0; i < p.length; i++) if (buf[start + i] !== p[i]) return false;
  return true;
}

function shouldFailOver(req: Request, buf: Uint8Array, start: number, end: number): boolean {
  const f = req.failure;
  if (f === F_CONNECTION || f === F_TIMEOUT || f === F_PEER_DOWN || f === F_QUEUE_FULL || f === F_NO_BACKEND) return true;
  if (f !== F_NONE) return false;
  for (const p of NOT_SERVED) if (startsWith(buf, start, end, p)) return true;
  return false;
}

/**
 * A replica a read should skip: known down, still owed writes by this worker (hints not yet replayed), or back from down for
 * less than its recovery grace (others' hints may still be on their way): it would answer without those writes.
 */
function unreadable(cl: ClusterRuntime, node: number): boolean {
  // Down, or warming up (its datastore is still being filled: cluster/warm-up.ts).
  if (cl.skipsReads(node)) return true;
  const h = cl.hints;
  if (h === null) return false;
  const q = h.byNode[node];
  return (q !== null && q !== undefined && q.count > 0) || h.isRecovering(node);
}

/**
 * Send a DC_ONE read for `hash`: to the owner in this rack, or, when it is known down, to the first replica that is not.
 * Its bytes are kept (pooled) so that a failure after sending can still move it on; `keyBuf[ks, ke)` picks this node's
 * own datastore server when this node is the owner.
 */
export function sendRead(
  cl: ClusterRuntime, req: Request, hash: number, keyBuf: Uint8Array, ks: number, ke: number, bytes: Uint8Array, start: number, end: number,
  words: ClusterWords,
): void {
  const view = cl.current();
  // The common case costs one ring lookup: the rest of replicasFor only when the owner is known down.
  let node = view.ownerInRack(view.localRacks[0], hash);
  let attempt = 0;
  if (unreadable(cl, node)) {
    const set = cl.replicas;
    const n = readable(set, view.replicasFor(hash, SCOPE_ALL, set));
    // The first replica that is up and not behind; failing that, the first that is up (behind beats down); failing that, the owner.
    while (attempt < n && unreadable(cl, set.node[attempt])) attempt++;
    if (attempt === n) for (attempt = 0; attempt < n - 1 && cl.skipsReads(set.node[attempt]); attempt++);
    if (attempt > 0) cl.st[P.read_failovers_total]++;
    node = set.node[attempt];
  }
  if (view.racks.length > 1 && end - start <= RETRY_MAX_BYTES) {
    retainBytes(req, bytes, start, end);
    req.retryHash = hash;
    req.retryAttempt = attempt;
    req.retryRoute = cl;
  }
  const server = cl.upstream(node, keyBuf, ks, ke);
  if (server === null) return failUnroutable(cl, node, req, words);
  server.send(req, bytes, start, end);
}

/**
 * A DC_ONE write safe to apply twice (SET, DEL ...), with hints and write_failover on: kept like a read, so that when its owner fails
 * (the detector has not seen it down yet, or it died with the write in flight) the next replica stores it and answers, and the failed
 * owner gets it as a hint. `req.hintQueue` marks it a write (the runtime's hints; K_CLIENT requests use it for nothing else).
 */
export function retainWrite(cl: ClusterRuntime, req: Request, hash: number, bytes: Uint8Array, start: number, end: number): void {
  retainBytes(req, bytes, start, end);
  req.retryHash = hash;
  req.retryAttempt = 0;
  req.retryRoute = cl;
  req.hintQueue = cl.hints;
}

/** The failover handler (request.ts calls it for an error to a retained read): true when the read was resent elsewhere. */
function failOver(req: Request, buf: Uint8Array, start: number, end: number): boolean {
  const cl = req.retryRoute as ClusterRuntime | null;
  if (cl === null || req.retryBuf === null || !shouldFailOver(req, buf, start, end)) return false;
  const view = cl.current();
  const set = cl.replicas;
  const write = req.hintQueue !== null;
  const all = view.replicasFor(req.retryHash, SCOPE_ALL, set);
  const n = write ? all : readable(set, all);
  // Budget: twice the timeout, so that a read whose owner timed out still gets one more replica's answer.
  const timeout = cl.timeoutMs();
  const i = timeout > 0 && monotonicMs() - req.startedAt >= 2 * timeout ? -1 : nextReplica(cl, set, n, req.retryAttempt);
  // The replica that failed a write gets it as a hint (itself: none) when another replica takes it now, or when the failure is
  // ambiguous (a timeout or a lost connection: it may have applied). A write refused everywhere is the client's error, and stays
  // unapplied: no hint then.
  const f = req.failure;
  if (write && (i >= 0 || f === F_TIMEOUT || f === F_CONNECTION)) {
    const h = cl.hints;
    const q = h !== null && req.retryAttempt < n ? h.byNode[set.node[req.retryAttempt]] : null;
    if (q !== null && q !== undefined && !(h as HintRouting).hold(q, req.retryBuf, 0, req.retryLen, false)) cl.st[P.replica_writes_dropped_total]++;
  }
  if (i < 0) return false;
  const link = cl.links[set.node[i]] as BackendServer;
  req.retryAttempt = i;
  req.failure = F_NONE;
  cl.st[write ? P.write_failovers_total : P.read_failovers_total]++;
  link.send(req, req.retryBuf, 0, req.retryLen);
  return true;
}

/**
 * The replica after set index `from` to try next (replicas after the first are other racks' owners: peers, never this node's own
 * datastore): one up and not behind, failing that one merely behind (back a moment ago, or owed hints); -1: none.
 */
/** The replicas a read may go to: every one before the shadows (a token move's other side holds a partial copy; replicasFor lists them last). */
function readable(set: ReplicaSet, n: number): number {
  for (let i = 0; i < n; i++) if (set.tier[i] === TIER_SHADOW) return i;
  return n;
}

function nextReplica(cl: ClusterRuntime, set: ReplicaSet, n: number, from: number): number {
  for (let i = from + 1; i < n; i++) if (!unreadable(cl, set.node[i]) && cl.links[set.node[i]]) return i;
  for (let i = from + 1; i < n; i++) if (!cl.skipsReads(set.node[i]) && cl.links[set.node[i]]) return i;
  return -1;
}

setFailoverHandler(failOver);
