// The key-hash ranges a node owns in its rack's token ring, as inclusive [from, to] pairs of 32-bit hashes (warm-up, range copies).
// Pure: derived from the ring's own lookup at every token boundary, so it can never disagree with where requests are routed.
import type { ClusterView } from './cluster-view.ts';
import type { TokenRing } from './token-ring.ts';

const MAX_U32 = 0xffffffff;

/** The hashes `node` owns in `rack`, as sorted, merged, inclusive [from, to] pairs (flat). Empty when it owns none. */
export function hashRangesOf(view: ClusterView, rack: number, node: number): number[] {
  return hashRangesIn(view.racks[rack].ring, node);
}

/** The hashes `node` owns in one ring (a rack's routing ring, or the ring it will have once a move is done). */
export function hashRangesIn(ring: TokenRing, node: number): number[] {
  // A hash h sorts as key h+1 (0 as 0); a token of sort key K owns the hashes whose key is <= K after the previous token,
  // so the owner can change only after hash K-1: those are the ends of the uniform segments.
  const ends = new Set<number>();
  for (const k of ring.keys) ends.add(k === 0 ? 0 : Math.min(k - 1, MAX_U32));
  ends.add(MAX_U32);
  const sorted = [...ends].sort((a, b) => a - b);
  const out: number[] = [];
  let from = 0;
  for (const to of sorted) {
    if (to < from) continue;
    if (ring.lookup(to) === node) {
      if (out.length > 0 && out[out.length - 1] === from - 1) out[out.length - 1] = to;
      else out.push(from, to);
    }
    from = to + 1;
  }
  return out;
}

/** The overlap of two sets of inclusive ranges (each sorted and merged, as hashRangesOf returns them). */
export function intersectHashRanges(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i += 2) {
    for (let j = 0; j < b.length; j += 2) {
      const from = Math.max(a[i], b[j]);
      const to = Math.min(a[i + 1], b[j + 1]);
      if (from <= to) out.push(from, to);
    }
  }
  return out;
}

/** How many hashes the ranges cover (their share of the ring is this / 2^32). */
export function hashRangesSize(r: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < r.length; i += 2) n += r[i + 1] - r[i] + 1;
  return n;
}
