// MD5 in pure TypeScript over a byte range, for the "md5" key hash and for ketama points.
// Never allocates per call: block words, tail padding and state live in buffers made once at module load.

// The 64 sine-derived constants of RFC 1321, and the per-step rotate amounts.
const K = Int32Array.of(
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
);
const S = Int32Array.of(
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
);

const X = new Int32Array(16);
const TAIL = new Uint8Array(128);
const STATE = new Int32Array(4);

function compress(src: Uint8Array, off: number): void {
  for (let j = 0; j < 16; j++, off += 4) {
    X[j] = src[off] | (src[off + 1] << 8) | (src[off + 2] << 16) | (src[off + 3] << 24);
  }
  let a = STATE[0];
  let b = STATE[1];
  let c = STATE[2];
  let d = STATE[3];
  let t = 0;
  for (let j = 0; j < 16; j++) {
    t = (a + (d ^ (b & (c ^ d))) + K[j] + X[j]) | 0;
    a = d; d = c; c = b;
    b = (b + ((t << S[j]) | (t >>> (32 - S[j])))) | 0;
  }
  for (let j = 16; j < 32; j++) {
    t = (a + (c ^ (d & (b ^ c))) + K[j] + X[(5 * j + 1) & 15]) | 0;
    a = d; d = c; c = b;
    b = (b + ((t << S[j]) | (t >>> (32 - S[j])))) | 0;
  }
  for (let j = 32; j < 48; j++) {
    t = (a + (b ^ c ^ d) + K[j] + X[(3 * j + 5) & 15]) | 0;
    a = d; d = c; c = b;
    b = (b + ((t << S[j]) | (t >>> (32 - S[j])))) | 0;
  }
  for (let j = 48; j < 64; j++) {
    t = (a + (c ^ (b | ~d)) + K[j] + X[(7 * j) & 15]) | 0;
    a = d; d = c; c = b;
    b = (b + ((t << S[j]) | (t >>> (32 - S[j])))) | 0;
  }
  STATE[0] = (STATE[0] + a) | 0;
  STATE[1] = (STATE[1] + b) | 0;
  STATE[2] = (STATE[2] + c) | 0;
  STATE[3] = (STATE[3] + d) | 0;
}

/** Runs MD5 over buf[start, end) and leaves the digest, as four little-endian words, in STATE. */
function md5Run(buf: Uint8Array, start: number, end: number): void {
  STATE[0] = 0x67452301;
  STATE[1] = 0xefcdab89 | 0;
  STATE[2] = 0x98badcfe | 0;
  STATE[3] = 0x10325476;
  const len = end - start;
  let i = start;
  for (; end - i >= 64; i += 64) compress(buf, i);
  const rem = end - i;
  for (let j = 0; j < rem; j++) TAIL[j] = buf[i + j];
  TAIL[rem] = 0x80;
  const total = rem < 56 ? 64 : 128;
  TAIL.fill(0, rem + 1, total - 8);
  const bitsLow = (len * 8) >>> 0;
  const bitsHigh = Math.floor(len / 0x20000000) >>> 0;
  TAIL[total - 8] = bitsLow;
  TAIL[total - 7] = bitsLow >>> 8;
  TAIL[total - 6] = bitsLow >>> 16;
  TAIL[total - 5] = bitsLow >>> 24;
  TAIL[total - 4] = bitsHigh;
  TAIL[total - 3] = bitsHigh >>> 8;
  TAIL[total - 2] = bitsHigh >>> 16;
  TAIL[total - 1] = bitsHigh >>> 24;
  compress(TAIL, 0);
  if (total === 128) compress(TAIL, 64);
}

/** The "md5" key hash: the first four digest bytes read little-endian. */
export function md5(buf: Uint8Array, start: number, end: number): number {
  md5Run(buf, start, end);
  return STATE[0] >>> 0;
}

/** Writes the whole digest as four little-endian uint32 words (digest bytes 4w..4w+3 are word w). */
export function md5Words(buf: Uint8Array, start: number, end: number, out: Uint32Array): void {
  md5Run(buf, start, end);
  out[0] = STATE[0];
  out[1] = STATE[1];
  out[2] = STATE[2];
  out[3] = STATE[3];
}
