// MULTI/EXEC on a cluster node: every key of a transaction shares one owner in each rack; at EXEC the block goes whole to the owner(s)
// that answer (by consistency level) and, fire-and-forget, to the owners that replicate. Never sends a command of a transaction before EXEC,
// never splits a block: a peer owner gets it as ONE dnode request, which its peer server runs as one contiguous MULTI..EXEC.
import { type CommandSpec } from '../../commands/index.ts';
import { SCOPE_ALL } from '../../topology/index.ts';
import { F_PEER_DOWN } from '../../protocol/failure/index.ts';
import {
  acquireRequest, completeLocally, failRequest, newComposite, newPart, K_CLIENT, type Request, type Merge, monotonicMs,
} from '../../io/index.ts';
import { scratch, type Args } from '../routing/scratch.ts';
import { QuorumMerge, EachDcQuorumMerge } from '../routing/merge.ts';
import type { TxState } from './tx-block.ts';
import * as R from './resp-replies.ts';
import type { ClusterRuntime } from '../routing/cluster-runtime.ts';
import { replicateRest } from '../routing/cluster-replicate.ts';
import type { RespSession } from './resp-session.ts';
import { watchedServer } from './resp-watch.ts';
import type { BackendServer } from '../../io/index.ts';

const PEER_DOWN = R.errReply('ERR Peer: Peer Node is not connected');

/**
 * Queue time: place one command of a transaction. Its keys must share the transaction's owner in every rack a write
 * reaches (the colocation rule of cluster routing), so the block can run whole on one node per rack. Returns the
 * refusal, or null. Keyless datastore commands cannot be placed (which node would run them is not the block's).
 */
export function clusterTxPlace(cl: ClusterRuntime, tx: TxState, spec: CommandSpec, a: Args, n: number): Uint8Array | null {
  if (n === 0) return spec.route === 'proxy' ? null : R.txKeyless(spec);
  const view = cl.current();
  const racks = view.allRacksByDc;
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) {
    const off = a.argOff[k[i]];
    const h = cl.keyHash(a.argBuf, off, off + a.argLen[k[i]]);
    if (Number.isNaN(tx.hash)) {
      if (view.hasDynomite) for (let r = 0; r < racks.length; r++) if (view.dynomiteNode[view.ownerInRack(racks[r], h)] === 1) return R.TX_DYNOMITE;
      tx.hash = h;
      tx.key = Buffer.from(a.argBuf.subarray(off, off + a.argLen[k[i]]));
      continue;
    }
    if (h === tx.hash) continue;
    for (let r = 0; r < racks.length; r++) if (view.ownerInRack(racks[r], h) !== view.ownerInRack(racks[r], tx.hash)) return R.TX_ONE_NODE;
  }
  return null;
}

/**
 * EXEC: the block to the owner in the local rack (DC_ONE), the local racks' owners (DC_QUORUM, DC_SAFE_QUORUM: their
 * EXEC replies merged by QuorumMerge) or every rack's owner (DC_EACH_SAFE_QUORUM); a write also goes, as one block, to
 * the owners that did not answer: the other local racks and one rack per remote datacenter, as cluster routing does.
 */
export function clusterTxExec(c: RespSession, cl: ClusterRuntime, tx: TxState): void {
  const block = tx.block();
  const ends = tx.blockEnds();
  const watched = watchedServer(c);
  if (watched !== null) return watchedExec(c, cl, tx, watched, block, ends);
  const view = cl.current();
  if (tx.key === null) {
    // Nothing keyed (PING, ECHO, TIME only): this node's datastore answers; nothing to replicate.
    return sendTo(cl, view.localNode, clientRequest(c), block, ends, null);
  }
  const hash = tx.hash;
  const level = c.consistency ?? (tx.write ? cl.writeConsistency() : cl.readConsistency());
  const locals = view.localRacks.length;
  if (level === 'DC_EACH_SAFE_QUORUM' && view.racksPerDc.length > 1) {
    // Every rack of every datacenter answers this block itself: nothing is left to replicate.
    const racks = view.allRacksByDc;
    const parent = newComposite(c, new EachDcQuorumMerge(view.dcGroupOfRack, view.racksPerDc), racks.length, -1, monotonicMs());
    for (let i = 0; i < racks.length; i++) sendTo(cl, view.ownerInRack(racks[i], hash), newPart(parent, i), block, ends, tx.key);
    return;
  }
  const set = cl.replicas;
  view.replicasFor(hash, SCOPE_ALL, set);
  let answered = 1;
  if (level === 'DC_ONE' || locals === 1) sendTo(cl, set.node[0], clientRequest(c), block, ends, tx.key);
  else {
    const merge: Merge = new QuorumMerge(locals, level !== 'DC_QUORUM');
    const parent = newComposite(c, merge, locals, -1, monotonicMs());
    for (let i = 0; i < locals; i++) sendTo(cl, set.node[i], newPart(parent, i), block, ends, tx.key);
    answered = locals;
  }
  // A read-only transaction changes nothing the replicas would need.
  if (tx.write) replicateRest(cl, set, answered, block, 0, block.length);
}

function clientRequest(c: RespSession): Request {
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  c.enqueue(req);
  return req;
}

/** The block to one node: this node's datastore as MULTI, commands, EXEC on one connection, or a peer as one dnode request. */
function sendTo(cl: ClusterRuntime, node: number, req: Request, block: Buffer, ends: number[], key: Buffer | null): void {
  if (cl.links[node] === null) {
    const server = key === null ? cl.localServerFor(block, 0, 0) : cl.localServerFor(key, 0, key.length);
    if (server === null) return completeLocally(req, R.NO_BACKEND);
    return server.sendBlock(req, block, 0, ends, block.length);
  }
  const peer = cl.upstream(node, block, 0, 0);
  if (peer === null) return failRequest(req, F_PEER_DOWN, PEER_DOWN);
  peer.send(req, block, 0, block.length);
}

const NOT_WATCHED = R.errReply('EXECABORT Transaction discarded because its keys are not on the datastore of the watched keys (dynoproxy: use one hash tag)');

/**
 * EXEC under WATCH: the block runs on the client's pinned connection — to this node's datastore, or on the dedicated link to the owning
 * peer, whose peer server runs it on the connection it pinned for the WATCH — whatever the consistency level (the watch exists there
 * only). A write block reaches the other replicas only once its EXEC ran (an array, not nil): an aborted transaction is replicated nowhere.
 */
function watchedExec(c: RespSession, cl: ClusterRuntime, tx: TxState, server: BackendServer, block: Buffer, ends: number[]): void {
  const view = cl.current();
  if (tx.key !== null) {
    const s = cl.upstream(view.ownerInRack(view.localRacks[0], tx.hash), tx.key, 0, tx.key.length);
    if (s !== null && s !== server) return c.replyLocal(NOT_WATCHED);
  }
  const parent = newComposite(c, new WatchedExec(cl, tx.write && tx.key !== null ? block : null, tx.hash), 1, -1, monotonicMs());
  const part = newPart(parent, 0);
  if (cl.links.indexOf(server) < 0) server.sendBlock(part, block, 0, ends, block.length);
  else server.send(part, block, 0, block.length);
}

/** The watched EXEC's one reply, passed on as it is; a write block that ran goes, fire-and-forget, to the other racks and datacenters. */
class WatchedExec implements Merge {
  readonly hasSideEffects = true;
  private reply: Uint8Array = PEER_DOWN;
  private readonly cl: ClusterRuntime;
  private readonly block: Buffer | null;
  private readonly hash: number;

  constructor(cl: ClusterRuntime, block: Buffer | null, hash: number) {
    this.cl = cl;
    this.block = block;
    this.hash = hash;
  }

  part(_index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    this.reply = Buffer.from(buf.subarray(start, end));
    // EXEC ran: an array (RESP2 nil is *-1, RESP3 nil is _).
    const ran = !isError && end - start >= 2 && buf[start] === 0x2a && buf[start + 1] !== 0x2d;
    if (!ran || this.block === null) return;
    const set = this.cl.replicas;
    this.cl.current().replicasFor(this.hash, SCOPE_ALL, set);
    replicateRest(this.cl, set, 1, this.block, 0, this.block.length);
  }

  finish(): Uint8Array {
    return this.reply;
  }
}
