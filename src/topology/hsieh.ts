// Paul Hsieh's SuperFastHash as Dynomite and twemproxy compute it (initial hash 0 instead of len).
// Pure and allocation-free per call.

function superFastHash(buf: Uint8Array, start: number, end: number, signedTail: boolean): number {
  const len = end - start;
  if (len <= 0) return 0;
  let h = 0;
  let i = start;
  for (const stop = start + (len & ~3); i < stop; i += 4) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    const tmp = ((buf[i + 2] | (buf[i + 3] << 8)) << 11) ^ h;
    h = (h << 16) ^ tmp;
    h = (h + (h >>> 11)) | 0;
  }
  const rem = len & 3;
  if (rem === 3) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    h ^= h << 16;
    h ^= (signedTail ? (buf[i + 2] << 24) >> 24 : buf[i + 2]) << 18;
    h = (h + (h >>> 11)) | 0;
  } else if (rem === 2) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    h ^= h << 11;
    h = (h + (h >>> 17)) | 0;
  } else if (rem === 1) {
    h = (h + buf[i]) | 0;
    h ^= h << 10;
    h = (h + (h >>> 1)) | 0;
  }
  h ^= h << 3;
  h = (h + (h >>> 5)) | 0;
  h ^= h << 4;
  h = (h + (h >>> 17)) | 0;
  h ^= h << 25;
  h = (h + (h >>> 6)) | 0;
  return h >>> 0;
}

/**
 * Dynomite's quirk: the hash starts at 0 (the reference starts at len). Every byte is read unsigned, including
 * the third byte of a 3-byte tail (the reference casts it to signed char): the vector for "€" (e2 82 ac) says so.
 * The empty key is special: Dynomite returns before writing the token (stack garbage); we return 0.
 */
export function hsieh(buf: Uint8Array, start: number, end: number): number {
  return superFastHash(buf, start, end, false);
}

/** twemproxy's hash_hsieh: as Dynomite's, but the third byte of a 3-byte tail is a sign-extended char. */
export function twemproxyHsieh(buf: Uint8Array, start: number, end: number): number {
  return superFastHash(buf, start, end, true);
}
