// Replica writes: fire-and-forget sends to the other racks and datacenters that nobody waits for, each failure counted per peer and per code.
// Never blocks a client on a replica and never drops one silently: a refused, timed-out or unsendable replica write is counted where /metrics shows it,
// and with hinted handoff (hints.ts) one that surely did not store is kept for its target; a target with hints gets new writes behind them.
import { acquireRequest, retainBytes, K_REPLICA, RETRY_MAX_BYTES } from '../../io/index.ts';
import { F_PEER_DOWN, F_QUEUE_FULL } from '../../protocol/failure/index.ts';
import { P, S, S_REPLICA_FAILURES } from '../../stats/index.ts';
import { TIER_SHADOW, type ReplicaSet } from '../../topology/index.ts';
import type { BackendServer } from '../../io/index.ts';
import type { ClusterRuntime, HintRouting } from './cluster-runtime.ts';

/** A replica write that never left: counted on the target's link by code, and kept as a hint or counted as dropped on the pool. */
function dropped(cl: ClusterRuntime, node: number, failure: number, bytes: Uint8Array, start: number, end: number, remoteDc: boolean): void {
  const link = cl.links[node];
  if (link !== null && link !== undefined) link.st[S_REPLICA_FAILURES + failure]++;
  const h = cl.hints;
  const q = h !== null ? h.byNode[node] : null;
  if (h === null || q === null || q === undefined || !h.hold(q, bytes, start, end, remoteDc)) cl.st[P.replica_writes_dropped_total]++;
}

/**
 * One replica write to `node` through `server` (null: the node is down). A write for another datacenter goes through the
 * cluster worker's ring (batched per remote node) when it fits a ring record; a bigger one leaves on this worker's own link.
 */
export function replicateTo(cl: ClusterRuntime, node: number, server: BackendServer | null, bytes: Uint8Array, start: number, end: number, remoteDc: boolean): void {
  // The one check a target with no hints costs; one with hints takes the write behind them (same link, same order).
  const h = cl.hints;
  const q = h !== null ? h.byNode[node] : null;
  if (q !== null && q !== undefined && q.count > 0) {
    if (!(h as HintRouting).hold(q, bytes, start, end, remoteDc)) cl.st[P.replica_writes_dropped_total]++;
    return;
  }
  const ring = cl.ring;
  // With hints on, a remote-DC write that fits a ring record goes to the cluster worker even when its target is down: the cluster
  // worker keeps it as its hint, so one keeper holds that target's batched writes in order.
  if (remoteDc && ring !== null && end - start <= ring.maxPayload && (server !== null || h !== null)) {
    if (ring.push(node, bytes, start, end)) cl.st[P.remote_dc_writes_total]++;
    else dropped(cl, node, F_QUEUE_FULL, bytes, start, end, remoteDc);
    return;
  }
  if (server === null) return dropped(cl, node, F_PEER_DOWN, bytes, start, end, remoteDc);
  if (remoteDc) cl.st[P.remote_dc_writes_total]++;
  const req = acquireRequest(K_REPLICA);
  req.forwardDc = remoteDc;
  req.replicaSt = server.st;
  server.st[S.replica_writes_total]++;
  if (q === null || q === undefined) return server.send(req, bytes, start, end);
  // Hinted handoff: a copy of the bytes (pooled) for a "not stored" reply; a failure before it left is told inside send.
  req.hintQueue = q;
  req.sentAt = 0;
  if (end - start <= RETRY_MAX_BYTES) retainBytes(req, bytes, start, end);
  (h as HintRouting).sending(bytes, start, end);
  server.send(req, bytes, start, end);
  (h as HintRouting).sending(null, 0, 0);
}

/** A peer of another rack (never this node) as a replica target: its link, or null while it is down. */
export function peerTarget(cl: ClusterRuntime, node: number): BackendServer | null {
  return cl.isDown(node) ? null : (cl.links[node] ?? null);
}

/**
 * The replicas of `set` after the first `from` (which answered the client): the other local racks' owners, then one rack
 * per remote datacenter (its next rack where the chosen one is down). Every one of them is another node.
 */
export function replicateRest(cl: ClusterRuntime, set: ReplicaSet, from: number, bytes: Uint8Array, start: number, end: number): void {
  let i = from;
  while (i < set.count) {
    if (set.group[i] === 0) {
      const node = set.node[i];
      // A receiving side of a redis move (joining node, leaving node's successor) is filled by the copy and its mirror instead.
      if (set.tier[i] === TIER_SHADOW && cl.mirroredMoves && cl.view.racks[set.rack[i]].incoming) {
        i++;
        continue;
      }
      // A shadow replica (a token move) may be this node itself: its own datastore takes the write.
      const target = set.tier[i] === TIER_SHADOW && node === cl.view.localNode ? cl.upstream(node, bytes, 0, 0) : peerTarget(cl, node);
      replicateTo(cl, node, target, bytes, start, end, false);
      i++;
    } else i = replicateToDc(cl, set, i, bytes, start, end);
  }
}

/** The owners of `hash` in this datacenter's other racks (a peer fanning out a write another datacenter handed it). */
export function replicateToLocalRacks(cl: ClusterRuntime, hash: number, bytes: Uint8Array, start: number, end: number): void {
  const view = cl.current();
  for (let r = 1; r < view.localRacks.length; r++) {
    const node = view.ownerInRack(view.localRacks[r], hash);
    replicateTo(cl, node, peerTarget(cl, node), bytes, start, end, false);
  }
}

/**
 * The write for one remote datacenter, whose candidates start at set index `i` (its preferred rack's owner, then the
 * owners in its other racks): the first that is up takes it. Returns the index after that datacenter's candidates.
 */
export function replicateToDc(cl: ClusterRuntime, set: ReplicaSet, i: number, bytes: Uint8Array, start: number, end: number): number {
  const group = set.group[i];
  let j = i;
  let sent = false;
  for (; j < set.count && set.group[j] === group; j++) {
    if (sent) continue;
    const node = set.node[j];
    if (cl.isDown(node)) continue;
    replicateTo(cl, node, peerTarget(cl, node), bytes, start, end, true);
    sent = true;
  }
  if (!sent) replicateTo(cl, set.node[i], null, bytes, start, end, true);
  return j;
}
