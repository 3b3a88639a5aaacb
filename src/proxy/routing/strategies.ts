// Routing strategies: one object per routing shape of a one-key request (one owner, read failover, write failover, quorum, each-DC
// quorum), the replica fan-out and the broadcast, built once and shared by RESP, memcached and the peer server. Never looks inside
// request or reply bytes: the protocols hand in a KeyRoute (encoded bytes, reply kind) and their own words (ClusterWords).
import { SCOPE_ALL, SCOPE_LOCAL_DC, TIER_SHADOW, type ClusterView, type ReplicaSet } from '../../topology/index.ts';
import { P } from '../../stats/index.ts';
import { newComposite, newPart, monotonicMs, RETRY_MAX_BYTES, type Request } from '../../io/index.ts';
import { QuorumMerge, EachDcQuorumMerge } from './merge.ts';
import type { ClusterRuntime, HintRouting } from './cluster-runtime.ts';
import { failUnroutable, type ClusterWords } from './cluster-words.ts';
import { replicateTo, replicateRest, replicateToLocalRacks, peerTarget } from './cluster-replicate.ts';
import { retainWrite, sendRead } from './read-failover.ts';
import { clientRequest, type ClusterClient, type KeyRoute } from './key-route.ts';

/** One routing shape for a request whose keys share their owners: sends it, answers the client through `c`, replicates a write. */
export interface KeyStrategy {
  readonly name: string;
  route(c: ClusterClient, cl: ClusterRuntime, view: ClusterView, r: KeyRoute, words: ClusterWords): void;
}

/** Send to one node for the route's key; a node that is down fails the request at once (typed failure, the protocol's words). */
export function sendToNode(cl: ClusterRuntime, node: number, r: KeyRoute, req: Request, words: ClusterWords): void {
  const server = cl.upstream(node, r.kb, r.ks, r.ke);
  if (server === null) return failUnroutable(cl, node, req, words);
  server.send(req, r.bytes, r.start, r.end);
}

function owners(cl: ClusterRuntime, view: ClusterView, r: KeyRoute): ReplicaSet {
  const set = cl.replicas;
  view.replicasFor(r.hash, r.write ? SCOPE_ALL : SCOPE_LOCAL_DC, set);
  return set;
}

/** The fan-out of writes nobody waits for (Dynomite's asynchronous replication), every failure counted or hinted. */
export const REPLICATE = {
  name: 'replicate',
  /** The replicas of `set` after the first `from`, which answered the client. */
  rest(cl: ClusterRuntime, set: ReplicaSet, from: number, r: KeyRoute): void {
    replicateRest(cl, set, from, r.bytes, r.start, r.end);
  },
  /**
   * Every replica of a write, from the owner in this rack (`withLocal`, which may be this node's own datastore) or only the other
   * racks and datacenters (a write whose client answer is already decided, e.g. after a memcached cas stored).
   */
  all(cl: ClusterRuntime, r: KeyRoute, withLocal: boolean): void {
    const view = cl.current();
    const set = cl.replicas;
    view.replicasFor(r.hash, SCOPE_ALL, set);
    if (withLocal) replicateTo(cl, set.node[0], cl.upstream(set.node[0], r.kb, r.ks, r.ke), r.bytes, r.start, r.end, false);
    replicateRest(cl, set, 1, r.bytes, r.start, r.end);
  },
  /** The owners of a forwarded write in this datacenter's other racks (a peer fanning out what another datacenter handed it). */
  localDc(cl: ClusterRuntime, r: KeyRoute): void {
    replicateToLocalRacks(cl, r.hash, r.bytes, r.start, r.end);
  },
};

/** DC_ONE (or one local rack): the owner in this rack answers; a write then goes to every other replica. */
export const ONE_OWNER: KeyStrategy = {
  name: 'one-owner',
  route(c, cl, view, r, words) {
    const set = owners(cl, view, r);
    sendToNode(cl, set.node[0], r, clientRequest(c, r), words);
    if (r.write) REPLICATE.rest(cl, set, 1, r);
  },
};

/** A DC_ONE read: the owner in this rack, or the next replica when it is down or cannot serve it (read-failover.ts). */
export const READ_FAILOVER: KeyStrategy = {
  name: 'read-failover',
  route(c, cl, _view, r, words) {
    sendRead(cl, clientRequest(c, r), r.hash, r.kb, r.ks, r.ke, r.bytes, r.start, r.end, words);
  },
};

/**
 * A DC_ONE write with hinted handoff on: when the owner in this rack is known down, the first live owner of another local rack
 * stores it and answers the client; the down owner gets it as a hint (replayed once it is back), every other replica as usual.
 * With the owner up, or no local rack's owner up, it is ONE_OWNER (the owner's failure is then the answer).
 * An owner warming up (redis) gets no write that is not safe to apply twice (an INCR on its empty store would answer 1 and make the
 * key from nothing): the next local rack answers, and the warming node gets it from its copy's mirror (cluster/mirror.ts), not as a
 * hint (the mirror's read-back and a replayed hint would apply it twice).
 */
export const WRITE_FAILOVER: KeyStrategy = {
  name: 'write-failover',
  route(c, cl, view, r, words) {
    const set = owners(cl, view, r);
    const locals = view.localRacks.length;
    const h = cl.hints as HintRouting;
    const warming = cl.mirroredMoves && cl.isWarming(set.node[0]) && !h.idempotent(r.bytes, r.start, r.end);
    let j = 1;
    if (warming || cl.isDown(set.node[0])) while (j < locals && (cl.isDown(set.node[j]) || cl.isWarming(set.node[j]))) j++;
    if ((!warming && !cl.isDown(set.node[0])) || j === locals) {
      const req = clientRequest(c, r);
      // A write safe to apply twice moves to the next rack if its owner fails before the detector sees it down (read-failover.ts).
      if (r.end - r.start <= RETRY_MAX_BYTES && h.idempotent(r.bytes, r.start, r.end)) retainWrite(cl, req, r.hash, r.bytes, r.start, r.end);
      sendToNode(cl, set.node[0], r, req, words);
      return REPLICATE.rest(cl, set, 1, r);
    }
    cl.st[P.write_failovers_total]++;
    sendToNode(cl, set.node[j], r, clientRequest(c, r), words);
    // The down owner included: with no link to send on, replicateTo keeps the write as its hint. The warming owner: its mirror.
    for (let i = warming ? 1 : 0; i < locals; i++) if (i !== j) replicateTo(cl, set.node[i], peerTarget(cl, set.node[i]), r.bytes, r.start, r.end, false);
    REPLICATE.rest(cl, set, locals, r);
  },
};

function quorumRoute(c: ClusterClient, cl: ClusterRuntime, view: ClusterView, r: KeyRoute, words: ClusterWords, safe: boolean): void {
  const set = owners(cl, view, r);
  const locals = view.localRacks.length;
  const repair = r.repairable && !r.write ? cl.readRepair : null;
  const merge = repair !== null ? repair.merge(cl, r, set, locals, safe, words.noQuorum) : new QuorumMerge(locals, safe, words.noQuorum);
  const parent = newComposite(c, merge, locals, r.group, monotonicMs());
  parent.dropMode = r.dropMode;
  for (let i = 0; i < locals; i++) sendToNode(cl, set.node[i], r, newPart(parent, i, r.replyKind), words);
  if (r.write) REPLICATE.rest(cl, set, locals, r);
}

/** DC_QUORUM: the owners in every local rack answer; a majority of equal replies is the answer, else the first good one. */
export const QUORUM: KeyStrategy = {
  name: 'quorum',
  route: (c, cl, view, r, words) => quorumRoute(c, cl, view, r, words, false),
};

/** DC_SAFE_QUORUM: as QUORUM, but without a majority of equal replies the client gets the no-quorum error. */
export const SAFE_QUORUM: KeyStrategy = {
  name: 'safe-quorum',
  route: (c, cl, view, r, words) => quorumRoute(c, cl, view, r, words, true),
};

/** DC_EACH_SAFE_QUORUM: the owner in every rack of every datacenter answers; a safe quorum in each. Nothing is left to replicate. */
export const EACH_DC_QUORUM: KeyStrategy = {
  name: 'each-dc-quorum',
  route(c, cl, view, r, words) {
    const racks = view.allRacksByDc;
    const parent = newComposite(c, new EachDcQuorumMerge(view.dcGroupOfRack, view.racksPerDc, words.noQuorum), racks.length, r.group, monotonicMs());
    parent.dropMode = r.dropMode;
    for (let i = 0; i < racks.length; i++) sendToNode(cl, view.ownerInRack(racks[i], r.hash), r, newPart(parent, i, r.replyKind), words);
    // While tokens move: the other side of the move gets the write too (replicasFor appends those last), as for the other levels.
    if (r.write && view.moving) {
      const set = owners(cl, view, r);
      let first = set.count;
      while (first > 0 && set.tier[first - 1] === TIER_SHADOW) first--;
      if (first < set.count) replicateRest(cl, set, first, r.bytes, r.start, r.end);
    }
  },
};

/** SCRIPT LOAD / SCRIPT FLUSH ...: every other node gets the request too (scripts must exist wherever EVALSHA lands); nobody waits. */
export const BROADCAST = {
  name: 'broadcast',
  toPeers(cl: ClusterRuntime, bytes: Uint8Array, start: number, end: number): void {
    cl.current();
    const links = cl.links;
    for (let node = 0; node < links.length; node++) {
      if (links[node] === null) continue;
      replicateTo(cl, node, peerTarget(cl, node), bytes, start, end, false);
    }
  },
};

/**
 * The strategy for a one-key request at a consistency level (Dynomite's): DC_ONE reads fail over when read_failover is on, DC_ONE
 * writes when write_failover and hints are; DC_QUORUM / DC_SAFE_QUORUM wait on every local rack; DC_EACH_SAFE_QUORUM on every rack.
 */
export function strategyFor(cl: ClusterRuntime, view: ClusterView, level: string, write: boolean): KeyStrategy {
  const locals = view.localRacks.length;
  if (level === 'DC_EACH_SAFE_QUORUM' && view.racksPerDc.length > 1) return EACH_DC_QUORUM;
  if (level === 'DC_ONE' || locals === 1) {
    if (!write) return cl.readFailover() && level !== 'DC_EACH_SAFE_QUORUM' ? READ_FAILOVER : ONE_OWNER;
    return locals > 1 && cl.hints !== null && cl.writeFailover() ? WRITE_FAILOVER : ONE_OWNER;
  }
  return level === 'DC_QUORUM' ? QUORUM : SAFE_QUORUM;
}
