// MULTI/EXEC on a cluster node: every key of a transaction shares one owner in each rack; at EXEC the block goes whole to the owner(s)
// that answer (by consistency level) and, fire-and-forget, to the owners that replicate. Never sends a command of a transaction before EXEC,
// never splits a block: a peer owner gets it as ONE dnode request, which its peer server runs as one contiguous MULTI..EXEC.
import { type CommandSpec } from '../commands/index.ts';
import { acquireRequest, completeLocally, newComposite, newPart, K_CLIENT, K_INTERNAL_DISCARD, type Request, type Merge } from './request.ts';
import type { BackendServer } from './backend.ts';
import { monotonicMs } from './clock.ts';
import { scratch, type Args } from './scratch.ts';
import { QuorumMerge, EachDcQuorumMerge } from './merge.ts';
import { sendTxBlock, type TxState } from './tx-block.ts';
import * as R from './resp-replies.ts';
import { P } from '../stats/metrics.ts';
import type { ClusterRuntime } from './cluster-dispatch.ts';
import type { RespClient } from './resp-client.ts';

const PEER_DOWN = R.errReply('ERR Peer: Peer Node is not connected');
/** Record header of the replication ring (length, node): a block that cannot fit half the ring is sent on the peer link instead. */
const RING_RECORD_HEADER = 8;

/**
 * Queue time: place one command of a transaction. Its keys must share the transaction's owner in every rack a write
 * reaches (the colocation rule of cluster routing), so the block can run whole on one node per rack. Returns the
 * refusal, or null. Keyless datastore commands cannot be placed (which node would run them is not the block's).
 */
export function clusterTxPlace(cl: ClusterRuntime, tx: TxState, spec: CommandSpec, a: Args, n: number): Uint8Array | null {
  if (n === 0) return spec.route === 'proxy' ? null : R.txKeyless(spec);
  const map = cl.map;
  const racks = map.writeRacks;
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) {
    const off = a.argOff[k[i]];
    const h = map.keyHash(a.argBuf, off, off + a.argLen[k[i]]);
    if (Number.isNaN(tx.hash)) {
      tx.hash = h;
      tx.key = Buffer.from(a.argBuf.subarray(off, off + a.argLen[k[i]]));
      continue;
    }
    if (h === tx.hash) continue;
    for (const r of racks) if (map.ownerInRack(r, h) !== map.ownerInRack(r, tx.hash)) return R.TX_ONE_NODE;
  }
  return null;
}

/**
 * EXEC: the block to the owner in the local rack (DC_ONE), the local racks' owners (DC_QUORUM, DC_SAFE_QUORUM: their
 * EXEC replies merged by QuorumMerge) or every rack's owner (DC_EACH_SAFE_QUORUM); a write also goes, as one block, to
 * the owners that did not answer: the other local racks and one rack per remote datacenter, as cluster routing does.
 */
export function clusterTxExec(c: RespClient, cl: ClusterRuntime, tx: TxState): void {
  const block = tx.block();
  const ends = tx.blockEnds();
  if (tx.key === null) {
    // Nothing keyed (PING, ECHO, TIME only): this node's datastore answers; nothing to replicate.
    const req = acquireRequest(K_CLIENT);
    req.startedAt = monotonicMs();
    c.enqueue(req);
    return sendTo(cl, cl.map.localNode, req, block, ends, tx.key);
  }
  const map = cl.map;
  const hash = tx.hash;
  const level = c.consistency ?? (tx.write ? cl.writeConsistency() : cl.readConsistency());
  const local = map.localRacks;
  if (level === 'DC_EACH_SAFE_QUORUM' && map.racksPerDc.length > 1) {
    // Every rack of every datacenter answers this block itself: nothing is left to replicate.
    fanOut(c, cl, new EachDcQuorumMerge(map.dcOfRack, map.racksPerDc), map.allRacksByDc, hash, block, ends, tx.key);
    return;
  }
  const one = level === 'DC_ONE' || local.length === 1;
  if (one) {
    const req = acquireRequest(K_CLIENT);
    req.startedAt = monotonicMs();
    c.enqueue(req);
    sendTo(cl, map.ownerInRack(local[0], hash), req, block, ends, tx.key);
  } else {
    fanOut(c, cl, new QuorumMerge(local.length, level !== 'DC_QUORUM'), local, hash, block, ends, tx.key);
  }
  // A read-only transaction changes nothing the replicas would need.
  if (!tx.write) return;
  replicateTxBlock(cl, hash, one ? local.slice(1) : [], map.remoteDcRacks, block, 0, block.length);
}

/** One piece per rack, merged: the owners' EXEC replies. */
function fanOut(c: RespClient, cl: ClusterRuntime, merge: Merge, racks: readonly number[], hash: number, block: Buffer, ends: number[], key: Buffer): void {
  const parent = newComposite(c, merge, racks.length, -1, monotonicMs());
  for (let i = 0; i < racks.length; i++) sendTo(cl, cl.map.ownerInRack(racks[i], hash), newPart(parent, i), block, ends, key);
}

/** The block to one node: this node's datastore as MULTI, commands, EXEC on one connection, or a peer as one dnode request. */
function sendTo(cl: ClusterRuntime, node: number, req: Request, block: Buffer, ends: number[], key: Buffer | null): void {
  const peer = cl.peers[node];
  if (peer === null) {
    const server = key === null ? cl.localServerFor(block, 0, 0) : cl.localServerFor(key, 0, key.length);
    if (server === null) return completeLocally(req, R.NO_BACKEND);
    const conn = server.pick(monotonicMs());
    if (conn === null) return completeLocally(req, R.storageErrorReply(server.lastError));
    return sendTxBlock(conn, req, block, 0, ends, block.length);
  }
  if (cl.states !== null && cl.states.isDown(node)) return completeLocally(req, PEER_DOWN);
  const conn = peer.pick(monotonicMs());
  if (conn === null) return completeLocally(req, linkError(peer));
  conn.send(req, block, 0, block.length);
}

function linkError(server: BackendServer): Uint8Array {
  return R.errReply(`ERR Peer: ${server.lastError || 'Peer Node is not connected'}`);
}

/**
 * A write block for owners nobody waits on: `racks` of this datacenter get it as a REQ, `remoteRacks` (one per other
 * datacenter) as a REQ_FORWARD through the cluster worker's ring, which their node fans out to its own racks.
 * A peer link that is down, or a full ring, drops it and counts it, as for any replica write.
 */
export function replicateTxBlock(
  cl: ClusterRuntime, hash: number, racks: readonly number[], remoteRacks: readonly number[], block: Uint8Array, start: number, end: number,
): void {
  const map = cl.map;
  for (const r of racks) fireAndForget(cl, map.ownerInRack(r, hash), block, start, end, false);
  for (const r of remoteRacks) {
    const node = map.ownerInRack(r, hash);
    const ring = cl.ring;
    // The ring refuses a record larger than half its space: such a block goes on this worker's own link to the node.
    if (ring !== null && RING_RECORD_HEADER + ((end - start + 3) & ~3) <= ring.capacity / 2) {
      if (ring.push(node, block, start, end)) cl.st[P.remote_dc_writes_total]++;
      else cl.st[P.replica_writes_dropped_total]++;
    } else fireAndForget(cl, node, block, start, end, true);
  }
}

function fireAndForget(cl: ClusterRuntime, node: number, block: Uint8Array, start: number, end: number, forwardDc: boolean): void {
  const peer = cl.peers[node];
  const conn = peer === null || (cl.states !== null && cl.states.isDown(node)) ? null : peer.pick(monotonicMs());
  if (conn === null) {
    cl.st[P.replica_writes_dropped_total]++;
    return;
  }
  const req = acquireRequest(K_INTERNAL_DISCARD);
  req.forwardDc = forwardDc;
  conn.send(req, block, start, end);
}
