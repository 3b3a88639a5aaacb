// Cluster routing's entry for requests whose keys share their owners, for every protocol: picks the strategy (strategies.ts) for the
// consistency level and runs it; plus the colocation test and hash scratch the protocols' fronts use before choosing split or not.
// Never looks inside request or reply bytes: the protocols (resp/resp-cluster.ts, memcache/memcache-cluster.ts) hand in a KeyRoute.
import type { ClusterView } from '../../topology/index.ts';
import type { ClusterRuntime } from './cluster-runtime.ts';
import type { ClusterWords } from './cluster-words.ts';
import { strategyFor } from './strategies.ts';
import type { ClusterClient, KeyRoute } from './key-route.ts';

export type { ClusterWords } from './cluster-words.ts';
export { KeyRoute, keyRoute, type ClusterClient } from './key-route.ts';
export { REPLICATE, BROADCAST, sendToNode } from './strategies.ts';
export { SPLIT, type SplitRequest } from './split.ts';

/**
 * Route a one-key request (or keys that share their owners) at `level`: reads from the local rack's owner (or a quorum of local
 * racks), writes to the owner in every local rack and to one rack of each remote datacenter (its next rack when that one is down).
 */
export function routeToReplicas(c: ClusterClient, cl: ClusterRuntime, view: ClusterView, level: string, r: KeyRoute, words: ClusterWords): void {
  strategyFor(cl, view, level, r.write).route(c, cl, view, r, words);
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
