// memcached's number checks (safe_strtoul, safe_strtoull, safe_strtol over glibc strto* on LP64) on byte ranges.
// Pure and allocation-free: no string conversion; refusals are `false` or NaN, never exceptions.
//
// What memcached 1.6 accepts, and so what we accept: leading C whitespace, one '+' or '-', at least one digit,
// then the end of the token or a whitespace byte (anything after it is ignored). Overflow of the 64-bit C type
// is refused; safe_strtoul/strtoull also refuse a '-' whose result wraps to 2^63 or above, and safe_strtol keeps
// only the low 32 bits (so "4294967297" bytes is a 1-byte value to memcached, and to us).

const ASCII0 = 48;

function digitsOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

const U64_MAX = digitsOf('18446744073709551615');
const I64_MAX = digitsOf('9223372036854775807');
const TWO_POW_63 = digitsOf('9223372036854775808');

// Results of the last scan (module state: one scan at a time, no allocation).
let negative = false;
let magStart = 0;
let magEnd = 0;
let low32 = 0;

function isCSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Compares the digits buf[from, to) (no leading zeros) with a constant magnitude: <0, 0 or >0. */
function compareMagnitude(buf: Uint8Array, from: number, to: number, limit: Uint8Array): number {
  const n = to - from;
  if (n !== limit.length) return n - limit.length;
  for (let i = 0; i < n; i++) {
    const d = buf[from + i] - limit[i];
    if (d !== 0) return d;
  }
  return 0;
}

/** Reads the number in buf[start, end) as strtol/strtoul would; false when it is no number at all. */
function scan(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && isCSpace(buf[i])) i++;
  negative = false;
  if (i < end && (buf[i] === 43 || buf[i] === 45)) {
    negative = buf[i] === 45;
    i++;
  }
  const first = i;
  while (i < end && buf[i] === ASCII0) i++;
  magStart = i;
  let lo = 0;
  while (i < end) {
    const d = buf[i] - ASCII0;
    if (d < 0 || d > 9) break;
    lo = (Math.imul(lo, 10) + d) >>> 0;
    i++;
  }
  if (i === first) return false;
  if (i < end && !isCSpace(buf[i])) return false;
  magEnd = i;
  low32 = negative ? -lo | 0 : lo | 0;
  return true;
}

/** safe_strtoul / safe_strtoull (the same on LP64): flags, cas unique, incr delta, verbosity level. */
export function isCUnsigned(buf: Uint8Array, start: number, end: number): boolean {
  if (!scan(buf, start, end)) return false;
  if (compareMagnitude(buf, magStart, magEnd, U64_MAX) > 0) return false; // ERANGE
  // "-N" wraps to 2^64-N; memcached refuses it when that looks negative as a signed long, i.e. 0 < N <= 2^63.
  if (negative && magEnd > magStart && compareMagnitude(buf, magStart, magEnd, TWO_POW_63) <= 0) return false;
  return true;
}

/**
 * safe_strtol as memcached 1.6.18 has it: strtol (64-bit) then truncation to int32. Returns the int32 value,
 * or NaN when refused. Used for exptime and the data length.
 */
export function cLongToInt32(buf: Uint8Array, start: number, end: number): number {
  if (!scan(buf, start, end)) return NaN;
  const limit = negative ? TWO_POW_63 : I64_MAX;
  if (compareMagnitude(buf, magStart, magEnd, limit) > 0) return NaN; // ERANGE
  return low32;
}
