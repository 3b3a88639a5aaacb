// Cluster routing (Dynomite's model) over ClusterView.replicasFor: reads from the local rack's owner (or a quorum of local racks),
// writes to the owner in every local rack and to one rack of each remote datacenter (its next rack when that one is down). Never blocks on replicas at DC_ONE.
import { RESP_ADAPTER } from '../protocol-adapter.ts';
import { isWrite, type CommandSpec } from '../../commands/index.ts';
import type { ClusterView } from '../../topology/index.ts';
import { acquireRequest, failRequest, newComposite, newPart, K_CLIENT, type Request, type Merge, monotonicMs } from '../../io/index.ts';
import { scratch, encodeKeyPiece, groupByOwner, type Args } from './scratch.ts';
import { ConcatMerge, SumMerge, AllOkMerge } from './merge.ts';
import { F_NO_BACKEND } from '../../protocol/failure/index.ts';
import { P } from '../../stats/index.ts';
import type { ClusterRuntime, RespClientLike } from './cluster-runtime.ts';
import { replicateTo } from './cluster-replicate.ts';
import { colocated, hashScratch, keyRoute, routeToReplicas } from './cluster-walk.ts';
import { failUnroutable, type ClusterWords } from './cluster-words.ts';

export type { ClusterRuntime, DynomiteCheck, RespClientLike } from './cluster-runtime.ts';

const RESP_WORDS: ClusterWords = RESP_ADAPTER.words;

/** Hash every key once (scratch.keyIdx[0..n)). */
export function hashKeys(cl: ClusterRuntime, a: Args, n: number): Float64Array {
  const hashes = hashScratch(n);
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) hashes[i] = cl.keyHash(a.argBuf, a.argOff[k[i]], a.argOff[k[i]] + a.argLen[k[i]]);
  return hashes;
}

/** Send to one node for the key at argv index `key`; a node that is down fails the request at once (typed failure). */
function sendToNode(cl: ClusterRuntime, node: number, a: Args, key: number, req: Request, bytes: Uint8Array, start: number, end: number): void {
  const server = cl.upstream(node, a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key]);
  if (server === null) return failUnroutable(cl, node, req, RESP_WORDS);
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
    if (s === null) failRequest(req, F_NO_BACKEND, RESP_WORDS.noBackend);
    else s.send(req, bytes, start, end);
    return true;
  }
  const h = hashKeys(cl, a, n);
  if (colocated(view, write ? view.allRacksByDc : view.localRacks, h, n)) {
    const level = c.consistency ?? (write ? cl.writeConsistency() : cl.readConsistency());
    const key = scratch.keyIdx[0];
    // One owner per rack: the shared walk (cluster-walk.ts) sends, waits on a quorum if asked, and replicates.
    const r = keyRoute.key(a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key], h[0]).payload(bytes, start, end, write, 0, 0, -1);
    routeToReplicas(c, cl, view, level, r, RESP_WORDS);
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

/** MGET/DEL/MSET... over keys owned by several nodes: one piece per owner in the local rack; writes also go, regrouped, to every other rack. */
function splitAcrossNodes(c: RespClientLike, cl: ClusterRuntime, view: ClusterView, spec: CommandSpec, a: Args, n: number, h: Float64Array, write: boolean): void {
  const pairs = spec.route === 'split-pairs';
  const owner = scratch.owner;
  const local = view.localRacks[0];
  for (let i = 0; i < n; i++) owner[i] = view.ownerInRack(local, h[i]);
  // An owner warming up (this node, or a peer that said so): its keys are read from the next local rack's owner.
  if (!write && view.localRacks.length > 1) readAroundWarming(cl, view, owner, h, n);
  const pieces = groupByOwner(owner, n, view.nodes.length);
  let merge: Merge;
  if (spec.route === 'split-concat') {
    const m = new ConcatMerge(pieces, n);
    m.keyPart.set(scratch.keyPiece.subarray(0, n));
    merge = m;
  } else merge = pairs ? new AllOkMerge() : new SumMerge();
  c.pool.st[P.requests_split_total]++;
  const parent = newComposite(c, merge, pieces, -1, monotonicMs());
  for (let piece = 0; piece < pieces; piece++) {
    const node = scratch.pieceOwner[piece];
    encodeKeyPiece(a, n, owner, node, pairs);
    sendToNode(cl, node, a, firstKeyOf(owner, n, node), newPart(parent, piece), scratch.enc, 0, scratch.encLen);
  }
  if (write) replicatePieces(cl, a, n, h, pairs, false);
}

/** The keys whose owner in the local rack is warming up move to their owner in the next local rack. */
function readAroundWarming(cl: ClusterRuntime, view: ClusterView, owner: Int32Array, h: Float64Array, n: number): void {
  const next = view.localRacks[1];
  for (let i = 0; i < n; i++) if (cl.isWarming(owner[i])) owner[i] = view.ownerInRack(next, h[i]);
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
    const pieces = groupByOwner(owner, n, view.nodes.length);
    for (let piece = 0; piece < pieces; piece++) {
      const node = scratch.pieceOwner[piece];
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
  const pieces = groupByOwner(owner, n, view.nodes.length);
  for (let piece = 0; piece < pieces; piece++) {
    const node = scratch.pieceOwner[piece];
    encodeKeyPiece(a, n, owner, node, pairs);
    const key = firstKeyOf(owner, n, node);
    replicateTo(cl, node, cl.upstream(node, a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key]), scratch.enc, 0, scratch.encLen, false);
  }
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
