// Bob Jenkins' hashes as Dynomite computes them: one_at_a_time (signed char quirk) and lookup3 hashlittle (initval 13).
// Pure and allocation-free per call: no per-call closures, no copies of the key.

/**
 * Jenkins one-at-a-time over a *signed* char pointer, as Dynomite reads it: each byte >= 0x80 is sign-extended
 * before it is added, which changes the result for every key holding such a byte.
 */
export function oneAtATime(buf: Uint8Array, start: number, end: number): number {
  let h = 0;
  for (let i = start; i < end; i++) {
    h = (h + ((buf[i] << 24) >> 24)) | 0;
    h = (h + (h << 10)) | 0;
    h ^= h >>> 6;
  }
  h = (h + (h << 3)) | 0;
  h ^= h >>> 11;
  h = (h + (h << 15)) | 0;
  return h >>> 0;
}

const JENKINS_INITVAL = 13;

/**
 * lookup3 hashlittle(key, len, 13) returning c. Dynomite's aligned word-reading paths give the same value as
 * this byte-at-a-time path on little-endian machines (the vectors confirm it at offsets 0..7).
 * The empty key is special: Dynomite returns before writing the token, so its value is stack garbage; we return 0.
 */
export function jenkins(buf: Uint8Array, start: number, end: number): number {
  let n = end - start;
  if (n <= 0) return 0;
  let a = (0xdeadbeef + n + JENKINS_INITVAL) | 0;
  let b = a;
  let c = a;
  let i = start;
  while (n > 12) {
    a = (a + (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24))) | 0;
    b = (b + (buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24))) | 0;
    c = (c + (buf[i + 8] | (buf[i + 9] << 8) | (buf[i + 10] << 16) | (buf[i + 11] << 24))) | 0;
    // mix(a, b, c)
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
    n -= 12;
    i += 12;
  }
  // The last block holds 1..12 bytes; each test below is one case of the C fall-through switch.
  if (n >= 12) c = (c + (buf[i + 11] << 24)) | 0;
  if (n >= 11) c = (c + (buf[i + 10] << 16)) | 0;
  if (n >= 10) c = (c + (buf[i + 9] << 8)) | 0;
  if (n >= 9) c = (c + buf[i + 8]) | 0;
  if (n >= 8) b = (b + (buf[i + 7] << 24)) | 0;
  if (n >= 7) b = (b + (buf[i + 6] << 16)) | 0;
  if (n >= 6) b = (b + (buf[i + 5] << 8)) | 0;
  if (n >= 5) b = (b + buf[i + 4]) | 0;
  if (n >= 4) a = (a + (buf[i + 3] << 24)) | 0;
  if (n >= 3) a = (a + (buf[i + 2] << 16)) | 0;
  if (n >= 2) a = (a + (buf[i + 1] << 8)) | 0;
  a = (a + buf[i]) | 0;
  // final(a, b, c)
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  return c >>> 0;
}
