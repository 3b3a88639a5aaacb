// The split strategy: a request whose keys have several owners (RESP MGET/DEL/MSET..., memcached multi-get) goes as one piece per
// owner and the pieces' replies are merged in the client's key order; a write's pieces also reach every other rack and datacenter.
// Never encodes or merges protocol bytes itself: the protocol's SplitRequest does (RESP in resp/resp-cluster.ts, memcached in memcache/).
import type { ClusterView } from '../../topology/index.ts';
import { newComposite, newPart, monotonicMs, type Merge, type Request } from '../../io/index.ts';
import { P } from '../../stats/index.ts';
import type { ClusterRuntime } from './cluster-runtime.ts';
import { failUnroutable, type ClusterWords } from './cluster-words.ts';
import { replicateTo } from './cluster-replicate.ts';
import { scratch, groupByOwner } from './scratch.ts';
import type { ClusterClient } from './key-route.ts';

/**
 * A multi-key request as its protocol presents it to the split strategy: key positions, the encoding of one piece and the merge of
 * the pieces' replies. One per protocol and worker, refilled per request (routing is synchronous).
 */
export interface SplitRequest {
  /** How many keys (0..count), in the client's order. */
  readonly count: number;
  readonly write: boolean;
  /** Request fields of each piece (request.ts): reply kind for memcached backends, stats group. */
  readonly replyKind: number;
  readonly group: number;
  /** Key i is keyBuf()[keyStart(i), keyEnd(i)). */
  keyBuf(): Uint8Array;
  keyStart(i: number): number;
  keyEnd(i: number): number;
  /** scratch.enc[0, scratch.encLen) := the request for the keys i whose owner[i] is `node`, in the client's order. */
  encodePiece(owner: Int32Array, node: number): void;
  /** The merge of `pieces` replies; scratch.keyPiece[0..count) says which piece asked for each key. */
  newMerge(pieces: number): Merge;
}

function firstKeyOf(owner: Int32Array, n: number, node: number): number {
  for (let i = 0; i < n; i++) if (owner[i] === node) return i;
  return 0;
}

/** Send scratch.enc to `node` as a piece; the server of this node's own datastore is chosen by the piece's first key. */
function sendPiece(cl: ClusterRuntime, node: number, s: SplitRequest, key: number, req: Request, words: ClusterWords): void {
  const server = cl.upstream(node, s.keyBuf(), s.keyStart(key), s.keyEnd(key));
  if (server === null) return failUnroutable(cl, node, req, words);
  server.send(req, scratch.enc, 0, scratch.encLen);
}

export const SPLIT = {
  name: 'split',
  /** One piece per owner in this rack, merged for the client; a write's pieces then go, regrouped, to every other rack. h: the keys' hashes. */
  route(c: ClusterClient, cl: ClusterRuntime, view: ClusterView, s: SplitRequest, h: Float64Array, words: ClusterWords): void {
    const n = s.count;
    const owner = scratch.owner;
    const local = view.localRacks[0];
    for (let i = 0; i < n; i++) owner[i] = view.ownerInRack(local, h[i]);
    // An owner warming up (this node, or a peer that said so): its keys are read from the next local rack's owner.
    if (!s.write && view.localRacks.length > 1) {
      const next = view.localRacks[1];
      for (let i = 0; i < n; i++) if (cl.isWarming(owner[i])) owner[i] = view.ownerInRack(next, h[i]);
    }
    const pieces = groupByOwner(owner, n, view.nodes.length);
    cl.st[P.requests_split_total]++;
    const parent = newComposite(c, s.newMerge(pieces), pieces, s.group, monotonicMs());
    for (let piece = 0; piece < pieces; piece++) {
      const node = scratch.pieceOwner[piece];
      s.encodePiece(owner, node);
      sendPiece(cl, node, s, firstKeyOf(owner, n, node), newPart(parent, piece, s.replyKind), words);
    }
    if (s.write) SPLIT.replicate(cl, s, h, false);
  },

  /**
   * A write split per owner, for the racks nobody waits on: the other local racks, and (unless `localOnly`) one rack per
   * remote datacenter — the next rack of that datacenter for the keys whose owner there is down.
   */
  replicate(cl: ClusterRuntime, s: SplitRequest, h: Float64Array, localOnly: boolean): void {
    const view = cl.view;
    const n = s.count;
    const owner = scratch.owner;
    for (let r = 1; r < view.localRacks.length; r++) SPLIT.toRack(cl, s, h, view.localRacks[r]);
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
        s.encodePiece(owner, node);
        replicateTo(cl, node, cl.isDown(node) ? null : (cl.links[node] ?? null), scratch.enc, 0, scratch.encLen, true);
      }
    }
  },

  /** A write split per owner, for one rack of this datacenter (another node's rack: nobody waits on it). */
  toRack(cl: ClusterRuntime, s: SplitRequest, h: Float64Array, rack: number): void {
    const view = cl.view;
    const n = s.count;
    const owner = scratch.owner;
    for (let i = 0; i < n; i++) owner[i] = view.ownerInRack(rack, h[i]);
    const pieces = groupByOwner(owner, n, view.nodes.length);
    for (let piece = 0; piece < pieces; piece++) {
      const node = scratch.pieceOwner[piece];
      s.encodePiece(owner, node);
      const key = firstKeyOf(owner, n, node);
      replicateTo(cl, node, cl.upstream(node, s.keyBuf(), s.keyStart(key), s.keyEnd(key)), scratch.enc, 0, scratch.encLen, false);
    }
  },
};
