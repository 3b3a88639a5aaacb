// Cluster routing shared by every protocol (Dynomite's model over ClusterView.replicasFor): one key's owner, a quorum over the local
// racks, a quorum in every datacenter, and the replica writes nobody waits for. Never looks inside request or reply bytes: the protocol
// adapters (cluster-dispatch.ts for RESP, memcache-cluster.ts) hand in encoded bytes, the reply kind and their own error words.
import { SCOPE_ALL, SCOPE_LOCAL_DC, type ClusterView, type ReplicaSet } from '../../topology/index.ts';
import { P } from '../../stats/index.ts';
import { acquireRequest, newComposite, newPart, K_CLIENT, RETRY_MAX_BYTES, type Request, monotonicMs } from '../../io/index.ts';
import { QuorumMerge, EachDcQuorumMerge } from './merge.ts';
import type { ClusterRuntime } from './cluster-runtime.ts';
import { failUnroutable, type ClusterWords } from './cluster-words.ts';

export type { ClusterWords } from './cluster-words.ts';
import { replicateTo, replicateRest, replicateToLocalRacks, peerTarget } from './cluster-replicate.ts';
import { retainWrite, sendRead } from './read-failover.ts';


/** What routing needs of a client connection: its in-order reply queue. */
export interface ClusterClient {
  enqueue(req: Request): void;
}

const NO_KEY = new Uint8Array(0);

/**
 * The one-key request being routed: its key bytes (what the owner's datastore server is chosen by), hash, bytes to send, how
 * its reply is framed and whether the client sees it. One per worker (routing is synchronous), refilled per request: no allocation.
 */
export class KeyRoute {
  kb: Uint8Array = NO_KEY;
  ks = 0;
  ke = 0;
  hash = 0;
  bytes: Uint8Array = NO_KEY;
  start = 0;
  end = 0;
  write = false;
  /** Request fields (request.ts): reply kind for memcached backends, reply dropping (noreply / quiet), stats group. */
  replyKind = 0;
  dropMode = 0;
  group = -1;

  key(kb: Uint8Array, ks: number, ke: number, hash: number): this {
    this.kb = kb;
    this.ks = ks;
    this.ke = ke;
    this.hash = hash;
    return this;
  }

  payload(bytes: Uint8Array, start: number, end: number, write: boolean, replyKind: number, dropMode: number, group: number): this {
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.write = write;
    this.replyKind = replyKind;
    this.dropMode = dropMode;
    this.group = group;
    return this;
  }
}

export const keyRoute = new KeyRoute();

/** Send to one node for the route's key; a node that is down fails the request at once (typed failure, the protocol's words). */
export function sendToNode(cl: ClusterRuntime, node: number, r: KeyRoute, req: Request, words: ClusterWords): void {
  const server = cl.upstream(node, r.kb, r.ks, r.ke);
  if (server === null) return failUnroutable(cl, node, req, words);
  server.send(req, r.bytes, r.start, r.end);
}


function clientRequest(c: ClusterClient, r: KeyRoute): Request {
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  req.group = r.group;
  req.replyKind = r.replyKind;
  req.dropMode = r.dropMode;
  c.enqueue(req);
  return req;
}

function composite(c: ClusterClient, merge: QuorumMerge | EachDcQuorumMerge, pieces: number, r: KeyRoute): Request {
  const parent = newComposite(c, merge, pieces, r.group, monotonicMs());
  parent.dropMode = r.dropMode;
  return parent;
}

/**
 * Route a one-key request (or keys that share their owners) at `level`: reads from the local rack's owner (or a quorum of local
 * racks), writes to the owner in every local rack and to one rack of each remote datacenter (its next rack when that one is down).
 */
export function routeToReplicas(c: ClusterClient, cl: ClusterRuntime, view: ClusterView, level: string, r: KeyRoute, words: ClusterWords): void {
  if (!r.write && (level === 'DC_ONE' || view.localRacks.length === 1) && level !== 'DC_EACH_SAFE_QUORUM' && cl.readFailover()) {
    // A read answered by one owner moves to the next replica when that owner is down or cannot serve it (read-failover.ts).
    return sendRead(cl, clientRequest(c, r), r.hash, r.kb, r.ks, r.ke, r.bytes, r.start, r.end, words);
  }
  const set = cl.replicas;
  view.replicasFor(r.hash, r.write ? SCOPE_ALL : SCOPE_LOCAL_DC, set);
  const locals = view.localRacks.length;
  if (level === 'DC_EACH_SAFE_QUORUM' && view.racksPerDc.length > 1) {
    // Every rack of every datacenter answers this request itself: nothing is left to replicate.
    return eachDcQuorum(c, cl, view, r, words);
  }
  if (r.write && level === 'DC_ONE' && locals > 1 && cl.writeFailover() && cl.isDown(set.node[0]) && writeFailover(c, cl, set, locals, r, words)) return;
  let answered = 1;
  if (level === 'DC_ONE' || locals === 1) {
    const req = clientRequest(c, r);
    // A write safe to apply twice moves to the next rack if its owner fails before the detector sees it down (read-failover.ts).
    const h = cl.hints;
    if (r.write && locals > 1 && h !== null && r.end - r.start <= RETRY_MAX_BYTES && cl.writeFailover() && h.idempotent(r.bytes, r.start, r.end)) retainWrite(cl, req, r.hash, r.bytes, r.start, r.end);
    sendToNode(cl, set.node[0], r, req, words);
  }
  else {
    quorum(c, cl, set, locals, level !== 'DC_QUORUM', r, words);
    answered = locals;
  }
  if (r.write) replicateRest(cl, set, answered, r.bytes, r.start, r.end);
}

/**
 * A DC_ONE write whose owner in this rack is known down, with hinted handoff on: the first live owner of another local rack
 * stores it and answers the client; the down owner gets it as a hint (replayed once it is back), every other replica as usual.
 * False (nothing sent) when no local rack's owner is up, or hints are off: the owner's failure is then the answer.
 */
function writeFailover(c: ClusterClient, cl: ClusterRuntime, set: ReplicaSet, locals: number, r: KeyRoute, words: ClusterWords): boolean {
  if (cl.hints === null) return false;
  let j = 1;
  while (j < locals && cl.isDown(set.node[j])) j++;
  if (j === locals) return false;
  cl.st[P.write_failovers_total]++;
  sendToNode(cl, set.node[j], r, clientRequest(c, r), words);
  // The down owner included: with no link to send on, replicateTo keeps the write as its hint.
  for (let i = 0; i < locals; i++) if (i !== j) replicateTo(cl, set.node[i], peerTarget(cl, set.node[i]), r.bytes, r.start, r.end, false);
  replicateRest(cl, set, locals, r.bytes, r.start, r.end);
  return true;
}

/** DC_QUORUM / DC_SAFE_QUORUM: the owners in the first `locals` entries of `set` (every local rack) answer; the merge decides. */
export function quorum(c: ClusterClient, cl: ClusterRuntime, set: ReplicaSet, locals: number, safe: boolean, r: KeyRoute, words: ClusterWords): void {
  const parent = composite(c, new QuorumMerge(locals, safe, words.noQuorum), locals, r);
  for (let i = 0; i < locals; i++) sendToNode(cl, set.node[i], r, newPart(parent, i, r.replyKind), words);
}

/** DC_EACH_SAFE_QUORUM: the owner in every rack of every datacenter; a safe quorum in each. */
export function eachDcQuorum(c: ClusterClient, cl: ClusterRuntime, view: ClusterView, r: KeyRoute, words: ClusterWords): void {
  const racks = view.allRacksByDc;
  const parent = composite(c, new EachDcQuorumMerge(view.dcGroupOfRack, view.racksPerDc, words.noQuorum), racks.length, r);
  for (let i = 0; i < racks.length; i++) sendToNode(cl, view.ownerInRack(racks[i], r.hash), r, newPart(parent, i, r.replyKind), words);
}

/**
 * Every replica of a write, none waited for: from the owner in this rack (`withLocal`, which may be this node's own datastore) or only
 * the other racks and datacenters (a write whose client answer is already decided, e.g. after a memcached cas stored).
 */
export function replicateAll(cl: ClusterRuntime, r: KeyRoute, withLocal: boolean): void {
  const view = cl.current();
  const set = cl.replicas;
  view.replicasFor(r.hash, SCOPE_ALL, set);
  if (withLocal) replicateTo(cl, set.node[0], cl.upstream(set.node[0], r.kb, r.ks, r.ke), r.bytes, r.start, r.end, false);
  replicateRest(cl, set, 1, r.bytes, r.start, r.end);
}

/** The owners of a forwarded write in this datacenter's other racks (a peer fanning out what another datacenter handed it). */
export function replicateInLocalDc(cl: ClusterRuntime, r: KeyRoute): void {
  replicateToLocalRacks(cl, r.hash, r.bytes, r.start, r.end);
}

/** Whether every key (hashes h[0..n)) has one owner in each of the racks. */
export function colocated(view: ClusterView, racks: Int32Array, h: Float64Array, n: number): boolean {
  // One key (the common request) is trivially colocated: no ring lookup at all.
  if (n <= 1) return true;
  for (let r = 0; r < racks.length; r++) {
    const o = view.ownerInRack(racks[r], h[0]);
    for (let i = 1; i < n; i++) if (view.ownerInRack(racks[r], h[i]) !== o) return false;
  }
  return true;
}

/** Room for n hashes (one array per worker, grown by doubling). */
export function hashScratch(n: number): Float64Array {
  if (hashes.length < n) hashes = new Float64Array(Math.max(n, hashes.length * 2));
  return hashes;
}
let hashes = new Float64Array(1024);
