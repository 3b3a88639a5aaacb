// Cluster routing (Dynomite's model) over ClusterView.replicasFor: reads from the local rack's owner (or a quorum of local racks),
// writes to the owner in every local rack and to one rack of each remote datacenter (its next rack when that one is down). Never blocks on replicas at DC_ONE.
import { isWrite, type CommandSpec } from '../commands/index.ts';
import { SCOPE_ALL, SCOPE_LOCAL_DC, type ClusterView, type ReplicaSet } from '../topology/index.ts';
import { acquireRequest, failRequest, newComposite, newPart, K_CLIENT, type Request, type Merge } from './request.ts';
import { monotonicMs } from './clock.ts';
import { scratch, encodeKeyPiece, type Args } from './scratch.ts';
import { ConcatMerge, SumMerge, AllOkMerge, QuorumMerge, EachDcQuorumMerge } from './merge.ts';
import { errReply } from './resp-replies.ts';
import { F_PEER_DOWN } from '../protocol/failure/index.ts';
import { P } from '../stats/index.ts';
import type { ClusterRuntime, RespClientLike } from './cluster-runtime.ts';
import { replicateTo, replicateRest } from './cluster-replicate.ts';
import { sendRead } from './read-failover.ts';

export type { ClusterRuntime, DynomiteCheck, RespClientLike } from './cluster-runtime.ts';

const PEER_DOWN = errReply('ERR Peer: Peer Node is not connected');

/** Hash every key once (scratch.keyIdx[0..n)). */
export function hashKeys(cl: ClusterRuntime, a: Args, n: number): Float64Array {
  if (hashes.length < n) hashes = new Float64Array(Math.max(n, hashes.length * 2));
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) hashes[i] = cl.keyHash(a.argBuf, a.argOff[k[i]], a.argOff[k[i]] + a.argLen[k[i]]);
  return hashes;
}
let hashes = new Float64Array(1024);

/** Whether every key has one owner in each of the racks. */
function colocated(view: ClusterView, racks: Int32Array, h: Float64Array, n: number): boolean {
  for (let r = 0; r < racks.length; r++) {
    const o = view.ownerInRack(racks[r], h[0]);
    for (let i = 1; i < n; i++) if (view.ownerInRack(racks[r], h[i]) !== o) return false;
  }
  return true;
}

/** Send to one node for the key at argv index `key`; a node that is down fails the request at once (typed failure). */
function sendToNode(cl: ClusterRuntime, node: number, a: Args, key: number, req: Request, bytes: Uint8Array, start: number, end: number): void {
  const server = cl.upstream(node, a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key]);
  if (server === null) return failRequest(req, F_PEER_DOWN, PEER_DOWN);
  server.send(req, bytes, start, end);
}

/**
 * Route a keyed request in cluster mode. `bytes[start,end)` is the request as RESP; its keys are scratch.keyIdx[0..n).
 * Returns false when the keys cannot be served together (the caller answers with the same-node error).
 */
export function clusterRoute(c: RespClientLike, cl: ClusterRuntime, spec: CommandSpec, a: Args, n: number, bytes: Uint8Array, start: number, end: number, splittable: boolean): boolean {
  const gate = cl.dynomite === null ? -1 : cl.dynomite.admit(c, spec, a, n, splittable);
  if (gate >= 0) return gate === 1;
  const view = cl.current();
  const write = isWrite(spec);
  if (n === 0) {
    // Keyless (EVAL with no keys ...): this node's datastore.
    const req = clientRequest(c);
    const s = cl.localServerFor(a.argBuf, 0, 0);
    if (s === null) failRequest(req, F_PEER_DOWN, PEER_DOWN);
    else s.send(req, bytes, start, end);
    return true;
  }
  const h = hashKeys(cl, a, n);
  if (colocated(view, write ? view.allRacksByDc : view.localRacks, h, n)) {
    const level = c.consistency ?? (write ? cl.writeConsistency() : cl.readConsistency());
    const key = scratch.keyIdx[0];
    const locals = view.localRacks.length;
    if (!write && (level === 'DC_ONE' || locals === 1) && level !== 'DC_EACH_SAFE_QUORUM' && cl.readFailover()) {
      sendRead(cl, clientRequest(c), h[0], a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key], bytes, start, end);
      return true;
    }
    const set = cl.replicas;
    view.replicasFor(h[0], write ? SCOPE_ALL : SCOPE_LOCAL_DC, set);
    if (level === 'DC_EACH_SAFE_QUORUM' && view.racksPerDc.length > 1) {
      // Every rack of every datacenter answers this request itself: nothing is left to replicate.
      eachDcQuorum(c, cl, view, a, key, h[0], bytes, start, end);
      return true;
    }
    let answered = 1;
    if (level === 'DC_ONE' || locals === 1) sendToNode(cl, set.node[0], a, key, clientRequest(c), bytes, start, end);
    else {
      quorum(c, cl, set, locals, a, key, level !== 'DC_QUORUM', bytes, start, end);
      answered = locals;
    }
    if (write) replicateRest(cl, set, answered, bytes, start, end);
    return true;
  }
  if (!splittable) return false;
  splitAcrossNodes(c, cl, view, spec, a, n, h, write);
  return true;
}

function clientRequest(c: RespClientLike): Request {
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  c.enqueue(req);
  return req;
}

function quorum(c: RespClientLike, cl: ClusterRuntime, set: ReplicaSet, locals: number, a: Args, key: number, safe: boolean, bytes: Uint8Array, start: number, end: number): void {
  const parent = newComposite(c, new QuorumMerge(locals, safe), locals, -1, monotonicMs());
  for (let i = 0; i < locals; i++) sendToNode(cl, set.node[i], a, key, newPart(parent, i), bytes, start, end);
}

function eachDcQuorum(c: RespClientLike, cl: ClusterRuntime, view: ClusterView, a: Args, key: number, hash: number, bytes: Uint8Array, start: number, end: number): void {
  const racks = view.allRacksByDc;
  const parent = newComposite(c, new EachDcQuorumMerge(view.dcGroupOfRack, view.racksPerDc), racks.length, -1, monotonicMs());
  for (let i = 0; i < racks.length; i++) sendToNode(cl, view.ownerInRack(racks[i], hash), a, key, newPart(parent, i), bytes, start, end);
}

/** MGET/DEL/MSET... over keys owned by several nodes: one piece per owner in the local rack; writes also go, regrouped, to every other rack. */
function splitAcrossNodes(c: RespClientLike, cl: ClusterRuntime, view: ClusterView, spec: CommandSpec, a: Args, n: number, h: Float64Array, write: boolean): void {
  const pairs = spec.route === 'split-pairs';
  const owner = scratch.owner;
  const local = view.localRacks[0];
  for (let i = 0; i < n; i++) owner[i] = view.ownerInRack(local, h[i]);
  const nodes = distinct(owner, n);
  let merge: Merge;
  if (spec.route === 'split-concat') {
    const m = new ConcatMerge(nodes.length, n);
    for (let i = 0; i < n; i++) m.keyPart[i] = nodes.indexOf(owner[i]);
    merge = m;
  } else merge = pairs ? new AllOkMerge() : new SumMerge();
  c.pool.st[P.requests_split_total]++;
  const parent = newComposite(c, merge, nodes.length, -1, monotonicMs());
  nodes.forEach((node, piece) => {
    encodeKeyPiece(a, n, owner, node, pairs);
    sendToNode(cl, node, a, firstKeyOf(owner, n, node), newPart(parent, piece), scratch.enc, 0, scratch.encLen);
  });
  if (write) replicatePieces(cl, a, n, h, pairs, false);
}

/**
 * A write split per owner, for the racks nobody waits on: the other local racks, and (unless `localOnly`) one rack per
 * remote datacenter — the next rack of that datacenter for the keys whose owner there is down.
 */
export function replicatePieces(cl: ClusterRuntime, a: Args, n: number, h: Float64Array, pairs: boolean, localOnly: boolean): void {
  const view = cl.view;
  const owner = scratch.owner;
  for (let r = 1; r < view.localRacks.length; r++) replicatePiecesToRack(cl, a, n, h, pairs, view.localRacks[r]);
  if (localOnly) return;
  for (const racks of view.remoteRacks) {
    // Each key's owner in the first rack of this datacenter whose owner of it is up.
    for (let i = 0; i < n; i++) {
      let o = -1;
      for (let j = 0; j < racks.length && (o < 0 || cl.isDown(o)); j++) {
        const cand = view.ownerInRack(racks[j], h[i]);
        if (o < 0 || !cl.isDown(cand)) o = cand;
      }
      owner[i] = o;
    }
    for (const node of distinct(owner, n)) {
      encodeKeyPiece(a, n, owner, node, pairs);
      replicateTo(cl, node, cl.isDown(node) ? null : (cl.links[node] ?? null), scratch.enc, 0, scratch.encLen, true);
    }
  }
}

/** A write split per owner, for one rack of this datacenter (another node's rack: nobody waits on it). */
export function replicatePiecesToRack(cl: ClusterRuntime, a: Args, n: number, h: Float64Array, pairs: boolean, rack: number): void {
  const view = cl.view;
  const owner = scratch.owner;
  for (let i = 0; i < n; i++) owner[i] = view.ownerInRack(rack, h[i]);
  for (const node of distinct(owner, n)) {
    encodeKeyPiece(a, n, owner, node, pairs);
    const key = firstKeyOf(owner, n, node);
    replicateTo(cl, node, cl.upstream(node, a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key]), scratch.enc, 0, scratch.encLen, false);
  }
}

function distinct(owner: Int32Array, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (!out.includes(owner[i])) out.push(owner[i]);
  return out;
}

function firstKeyOf(owner: Int32Array, n: number, node: number): number {
  for (let i = 0; i < n; i++) if (owner[i] === node) return scratch.keyIdx[i];
  return scratch.keyIdx[0];
}

/** SCRIPT LOAD / SCRIPT FLUSH ...: every other node gets it too (scripts must exist wherever EVALSHA lands). */
export function broadcastToPeers(cl: ClusterRuntime, bytes: Uint8Array, start: number, end: number): void {
  cl.current();
  const links = cl.links;
  for (let node = 0; node < links.length; node++) {
    const link = links[node];
    if (link === null) continue;
    replicateTo(cl, node, cl.isDown(node) ? null : link, bytes, start, end, false);
  }
}
