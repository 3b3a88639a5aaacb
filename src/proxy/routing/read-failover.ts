// Server-side read failover: a DC_ONE read whose owner is down, or answers that its datastore is, goes to the next replica that
// replicasFor yields (the other local racks, then remote DCs), within twice the pool's timeout. Never retries a write, never answers twice.
import { SCOPE_ALL } from '../../topology/index.ts';
import { F_CONNECTION, F_NO_BACKEND, F_NONE, F_PEER_DOWN, F_QUEUE_FULL, F_TIMEOUT } from '../../protocol/failure/index.ts';
import { P } from '../../stats/index.ts';
import { retainBytes, setFailoverHandler, RETRY_MAX_BYTES, type Request, monotonicMs } from '../../io/index.ts';
import type { ClusterRuntime } from './cluster-runtime.ts';
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
  // Down, or this node warming up (its datastore is still being filled): the next replica that is neither.
  if (cl.skipsReads(node)) {
    const set = cl.replicas;
    const n = view.replicasFor(hash, SCOPE_ALL, set);
    while (attempt < n - 1 && cl.skipsReads(set.node[attempt])) attempt++;
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

/** The failover handler (request.ts calls it for an error to a retained read): true when the read was resent elsewhere. */
function failOver(req: Request, buf: Uint8Array, start: number, end: number): boolean {
  const cl = req.retryRoute as ClusterRuntime | null;
  if (cl === null || req.retryBuf === null || !shouldFailOver(req, buf, start, end)) return false;
  // Budget: twice the timeout, so that a read whose owner timed out still gets one more replica's answer.
  const timeout = cl.timeoutMs();
  if (timeout > 0 && monotonicMs() - req.startedAt >= 2 * timeout) return false;
  const view = cl.current();
  const set = cl.replicas;
  const n = view.replicasFor(req.retryHash, SCOPE_ALL, set);
  for (let i = req.retryAttempt + 1; i < n; i++) {
    // Replicas after the first are other racks' owners: always peers, never this node's own datastore.
    const node = set.node[i];
    const link = cl.skipsReads(node) ? null : (cl.links[node] ?? null);
    if (link === null) continue;
    req.retryAttempt = i;
    req.failure = F_NONE;
    cl.st[P.read_failovers_total]++;
    link.send(req, req.retryBuf, 0, req.retryLen);
    return true;
  }
  return false;
}

setFailoverHandler(failOver);
