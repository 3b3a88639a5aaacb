// MurmurHash2 as Dynomite's "murmur" (seed 0xdeadbeef * len) and the real MurmurHash3 x86_32.
// Pure and allocation-free per call: bytes are read one by one from the caller's buffer, never copied.

const M2 = 0x5bd1e995;

/**
 * Dynomite's default key hash: MurmurHash2 (m = 0x5bd1e995, r = 24) with seed = 0xdeadbeef * len (mod 2^32),
 * so h0 = seed ^ len; 4-byte blocks are little-endian words. The empty key hashes to 0.
 */
export function murmur(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  let h = Math.imul(0xdeadbeef, len) ^ len;
  let i = start;
  for (const stop = start + (len & ~3); i < stop; i += 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, M2);
    k ^= k >>> 24;
    k = Math.imul(k, M2);
    h = Math.imul(h, M2) ^ k;
  }
  const rem = len & 3;
  if (rem !== 0) {
    if (rem === 3) h ^= buf[i + 2] << 16;
    if (rem >= 2) h ^= buf[i + 1] << 8;
    h ^= buf[i];
    h = Math.imul(h, M2);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M2);
  h ^= h >>> 15;
  return h >>> 0;
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * The published MurmurHash3_x86_32. Dynomite's hash_murmur3 never computes it (the call is commented out and
 * every Dynomite vector for murmur3 is null), so "murmur3" here deliberately follows the real algorithm instead.
 */
export function murmurHash3x86(buf: Uint8Array, start: number, end: number, seed: number): number {
  const len = end - start;
  let h = seed | 0;
  let i = start;
  for (const stop = start + (len & ~3); i < stop; i += 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rem = len & 3;
  if (rem !== 0) {
    let k = 0;
    if (rem === 3) k ^= buf[i + 2] << 16;
    if (rem >= 2) k ^= buf[i + 1] << 8;
    k ^= buf[i];
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3_x86_32 with seed 0: the HashFn behind the name "murmur3". */
export function murmur3(buf: Uint8Array, start: number, end: number): number {
  return murmurHash3x86(buf, start, end, 0);
}
