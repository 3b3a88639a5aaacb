// Pooled state arrays of the streaming merges (stream-merge.ts) and the scratch for a whole piece reply's element bounds.
// Never hands out an array another merge still holds: a merge gives its arrays back only once it is answered or cancelled.

/**
 * Per-worker free lists of the merges' state arrays by power-of-two size: a typed array above 64 bytes gets a backing store of its
 * own (malloc and GC bookkeeping per request); pooled, a small MGET allocates none. Taken zeroed; given back when the merge is over.
 */
const freeInts: Int32Array[][] = [];
const freeBytes: Uint8Array[][] = [];
const MAX_FREE_ARRAYS = 256;

function sizeClass(n: number): number {
  let c = 4;
  while (1 << c < n) c++;
  return c;
}

export function takeInts(n: number): Int32Array {
  const c = sizeClass(n);
  const a = freeInts[c]?.pop();
  if (a === undefined) return new Int32Array(1 << c);
  a.fill(0, 0, n);
  return a;
}

export function takeBytes(n: number): Uint8Array {
  const c = sizeClass(n);
  const a = freeBytes[c]?.pop();
  if (a === undefined) return new Uint8Array(1 << c);
  a.fill(0, 0, n);
  return a;
}

function give<T extends Int32Array | Uint8Array>(lists: T[][], a: T): void {
  const c = sizeClass(a.length);
  const list = (lists[c] ??= []);
  if (list.length < MAX_FREE_ARRAYS) list.push(a);
}

/** Scratch for a whole piece reply's element bounds (onWhole runs synchronously, one at a time per worker). */
let boundsScratch = new Int32Array(256);
export function boundsFor(n: number): Int32Array {
  if (boundsScratch.length < n) boundsScratch = new Int32Array(Math.max(n, boundsScratch.length * 2));
  return boundsScratch;
}

export function giveInts(a: Int32Array): void {
  give(freeInts, a);
}

export function giveBytes(a: Uint8Array): void {
  give(freeBytes, a);
}
