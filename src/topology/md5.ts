// MD5 in pure TypeScript over a byte range, for the "md5" key hash and for ketama points.
// Never allocates per call: the tail padding and the state live in buffers made once at module load.

// The 64 steps are written out with RFC 1321's constants inlined as signed int32 literals: no calls, no table
// reads, no per-step branches. V8 does not inline 64 calls of a step helper (its inlining budget runs out), and
// those calls made a block about five times slower. Round functions: F = d^(b&(c^d)), G = c^(d&(b^c)),
// H = b^c^d, I = c^(b|~d); each step is a = b + rotl(a + f + x[g] + k, s).
const TAIL = new Uint8Array(128);
const STATE = new Int32Array(4);

function compress(src: Uint8Array, off: number): void {
  const x0 = src[off + 0] | (src[off + 1] << 8) | (src[off + 2] << 16) | (src[off + 3] << 24);
  const x1 = src[off + 4] | (src[off + 5] << 8) | (src[off + 6] << 16) | (src[off + 7] << 24);
  const x2 = src[off + 8] | (src[off + 9] << 8) | (src[off + 10] << 16) | (src[off + 11] << 24);
  const x3 = src[off + 12] | (src[off + 13] << 8) | (src[off + 14] << 16) | (src[off + 15] << 24);
  const x4 = src[off + 16] | (src[off + 17] << 8) | (src[off + 18] << 16) | (src[off + 19] << 24);
  const x5 = src[off + 20] | (src[off + 21] << 8) | (src[off + 22] << 16) | (src[off + 23] << 24);
  const x6 = src[off + 24] | (src[off + 25] << 8) | (src[off + 26] << 16) | (src[off + 27] << 24);
  const x7 = src[off + 28] | (src[off + 29] << 8) | (src[off + 30] << 16) | (src[off + 31] << 24);
  const x8 = src[off + 32] | (src[off + 33] << 8) | (src[off + 34] << 16) | (src[off + 35] << 24);
  const x9 = src[off + 36] | (src[off + 37] << 8) | (src[off + 38] << 16) | (src[off + 39] << 24);
  const x10 = src[off + 40] | (src[off + 41] << 8) | (src[off + 42] << 16) | (src[off + 43] << 24);
  const x11 = src[off + 44] | (src[off + 45] << 8) | (src[off + 46] << 16) | (src[off + 47] << 24);
  const x12 = src[off + 48] | (src[off + 49] << 8) | (src[off + 50] << 16) | (src[off + 51] << 24);
  const x13 = src[off + 52] | (src[off + 53] << 8) | (src[off + 54] << 16) | (src[off + 55] << 24);
  const x14 = src[off + 56] | (src[off + 57] << 8) | (src[off + 58] << 16) | (src[off + 59] << 24);
  const x15 = src[off + 60] | (src[off + 61] << 8) | (src[off + 62] << 16) | (src[off + 63] << 24);
  let a = STATE[0];
  let b = STATE[1];
  let c = STATE[2];
  let d = STATE[3];
  a = (a + (d ^ (b & (c ^ d))) + x0 + -680876936) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
  d = (d + (c ^ (a & (b ^ c))) + x1 + -389564586) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
  c = (c + (b ^ (d & (a ^ b))) + x2 + 606105819) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
  b = (b + (a ^ (c & (d ^ a))) + x3 + -1044525330) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
  a = (a + (d ^ (b & (c ^ d))) + x4 + -176418897) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
  d = (d + (c ^ (a & (b ^ c))) + x5 + 1200080426) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
  c = (c + (b ^ (d & (a ^ b))) + x6 + -1473231341) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
  b = (b + (a ^ (c & (d ^ a))) + x7 + -45705983) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
  a = (a + (d ^ (b & (c ^ d))) + x8 + 1770035416) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
  d = (d + (c ^ (a & (b ^ c))) + x9 + -1958414417) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
  c = (c + (b ^ (d & (a ^ b))) + x10 + -42063) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
  b = (b + (a ^ (c & (d ^ a))) + x11 + -1990404162) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
  a = (a + (d ^ (b & (c ^ d))) + x12 + 1804603682) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
  d = (d + (c ^ (a & (b ^ c))) + x13 + -40341101) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
  c = (c + (b ^ (d & (a ^ b))) + x14 + -1502002290) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
  b = (b + (a ^ (c & (d ^ a))) + x15 + 1236535329) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
  a = (a + (c ^ (d & (b ^ c))) + x1 + -165796510) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
  d = (d + (b ^ (c & (a ^ b))) + x6 + -1069501632) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
  c = (c + (a ^ (b & (d ^ a))) + x11 + 643717713) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
  b = (b + (d ^ (a & (c ^ d))) + x0 + -373897302) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
  a = (a + (c ^ (d & (b ^ c))) + x5 + -701558691) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
  d = (d + (b ^ (c & (a ^ b))) + x10 + 38016083) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
  c = (c + (a ^ (b & (d ^ a))) + x15 + -660478335) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
  b = (b + (d ^ (a & (c ^ d))) + x4 + -405537848) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
  a = (a + (c ^ (d & (b ^ c))) + x9 + 568446438) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
  d = (d + (b ^ (c & (a ^ b))) + x14 + -1019803690) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
  c = (c + (a ^ (b & (d ^ a))) + x3 + -187363961) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
  b = (b + (d ^ (a & (c ^ d))) + x8 + 1163531501) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
  a = (a + (c ^ (d & (b ^ c))) + x13 + -1444681467) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
  d = (d + (b ^ (c & (a ^ b))) + x2 + -51403784) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
  c = (c + (a ^ (b & (d ^ a))) + x7 + 1735328473) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
  b = (b + (d ^ (a & (c ^ d))) + x12 + -1926607734) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
  a = (a + (b ^ c ^ d) + x5 + -378558) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
  d = (d + (a ^ b ^ c) + x8 + -2022574463) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
  c = (c + (d ^ a ^ b) + x11 + 1839030562) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
  b = (b + (c ^ d ^ a) + x14 + -35309556) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
  a = (a + (b ^ c ^ d) + x1 + -1530992060) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
  d = (d + (a ^ b ^ c) + x4 + 1272893353) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
  c = (c + (d ^ a ^ b) + x7 + -155497632) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
  b = (b + (c ^ d ^ a) + x10 + -1094730640) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
  a = (a + (b ^ c ^ d) + x13 + 681279174) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
  d = (d + (a ^ b ^ c) + x0 + -358537222) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
  c = (c + (d ^ a ^ b) + x3 + -722521979) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
  b = (b + (c ^ d ^ a) + x6 + 76029189) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
  a = (a + (b ^ c ^ d) + x9 + -640364487) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
  d = (d + (a ^ b ^ c) + x12 + -421815835) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
  c = (c + (d ^ a ^ b) + x15 + 530742520) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
  b = (b + (c ^ d ^ a) + x2 + -995338651) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
  a = (a + (c ^ (b | ~d)) + x0 + -198630844) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
  d = (d + (b ^ (a | ~c)) + x7 + 1126891415) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
  c = (c + (a ^ (d | ~b)) + x14 + -1416354905) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
  b = (b + (d ^ (c | ~a)) + x5 + -57434055) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
  a = (a + (c ^ (b | ~d)) + x12 + 1700485571) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
  d = (d + (b ^ (a | ~c)) + x3 + -1894986606) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
  c = (c + (a ^ (d | ~b)) + x10 + -1051523) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
  b = (b + (d ^ (c | ~a)) + x1 + -2054922799) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
  a = (a + (c ^ (b | ~d)) + x8 + 1873313359) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
  d = (d + (b ^ (a | ~c)) + x15 + -30611744) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
  c = (c + (a ^ (d | ~b)) + x6 + -1560198380) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
  b = (b + (d ^ (c | ~a)) + x13 + 1309151649) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
  a = (a + (c ^ (b | ~d)) + x4 + -145523070) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
  d = (d + (b ^ (a | ~c)) + x11 + -1120210379) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
  c = (c + (a ^ (d | ~b)) + x2 + 718787259) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
  b = (b + (d ^ (c | ~a)) + x9 + -343485551) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
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
