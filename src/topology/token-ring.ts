// Dynomite's per-rack token continuum and vnode_dispatch(): which owner holds a 32-bit key hash.
// Pure and allocation-free per lookup: sorted keys and owners live in typed arrays made once at build time.

import type { Distribution } from './distribution.ts';
import { compareDynTokens, dynTokenKey, tokenKeyOfHash } from './dyn-token.ts';
import type { DynToken } from './dyn-token.ts';

/**
 * vnode_dispatch() over a sorted continuum given as sort keys (see dynTokenKey) and owners; usable on typed
 * arrays backed by a SharedArrayBuffer. A token is the inclusive upper end of its range (prev, token];
 * a hash above the largest token or at or below the smallest wraps to the smallest token's owner.
 * The binary search is Dynomite's own, so duplicate tokens resolve to the owner Dynomite picks. -1 if empty.
 */
export function dispatchVnode(keys: Float64Array, owners: Int32Array, count: number, hash: number): number {
  if (count <= 0) return -1;
  const k = tokenKeyOfHash(hash);
  let left = 0;
  let right = count - 1;
  if (keys[right] < k || keys[left] >= k) return owners[left];
  while (left < right) {
    const middle = left + ((right - left) >>> 1);
    const mk = keys[middle];
    if (mk === k) return owners[middle];
    if (mk < k) left = middle + 1;
    else right = middle;
  }
  return owners[right];
}

/** One rack's continuum: tokens sorted as Dynomite's qsort with cmp_dyn_token leaves them, each with its owner. */
export class TokenRing implements Distribution {
  readonly kind = 'vnode' as const;
  /** Sort keys of the tokens, ascending. */
  readonly keys: Float64Array;
  /** owners[i] owns tokens[i]. */
  readonly owners: Int32Array;
  readonly tokens: readonly DynToken[];

  /** tokens[i] belongs to owners[i] (an arbitrary index, e.g. a peer's place in Dynomite's pool->peers). */
  constructor(tokens: readonly DynToken[], owners: readonly number[]) {
    if (tokens.length !== owners.length) {
      throw new RangeError(`TokenRing: ${tokens.length} tokens but ${owners.length} owners`);
    }
    const n = tokens.length;
    const order: number[] = [];
    const tokenKeys: number[] = [];
    for (let i = 0; i < n; i++) {
      const owner = owners[i];
      if (!Number.isInteger(owner) || owner < 0 || owner > 0x7fffffff) {
        throw new RangeError(`TokenRing: owner ${owner} is not a non-negative int32`);
      }
      order.push(i);
      tokenKeys.push(dynTokenKey(tokens[i]));
    }
    // Stable, like glibc's merge-sort qsort, so equal tokens keep their configured order.
    order.sort((a, b) => compareDynTokens(tokens[a], tokens[b]));
    this.keys = new Float64Array(n);
    this.owners = new Int32Array(n);
    const sorted: DynToken[] = [];
    for (let i = 0; i < n; i++) {
      const src = order[i];
      this.keys[i] = tokenKeys[src];
      this.owners[i] = owners[src];
      sorted.push({ signum: tokens[src].signum >>> 0, mag: tokens[src].mag >>> 0 });
    }
    this.tokens = Object.freeze(sorted);
  }

  get size(): number {
    return this.keys.length;
  }

  /** The owner of a uint32 key hash, or -1 for an empty ring. */
  lookup(hash: number): number {
    return dispatchVnode(this.keys, this.owners, this.keys.length, hash);
  }
}
