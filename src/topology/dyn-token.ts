// Dynomite ring tokens: parse_dyn_token() and cmp_dyn_token() reproduced bit for bit, plus a numeric sort key.
// Pure: no I/O. Parsing and comparing tokens happens at config time; only tokenKeyOfHash() is on the hot path.

/** What parse_dyn_token() yields. Dynomite always keeps exactly one 32-bit word (len = 1), so len is implicit. */
export interface DynToken { signum: number; mag: number }

/** signum of a negative token: Dynomite stores -1 in a uint32. It sorts above every other token. */
export const NEGATIVE_SIGNUM = 0xffffffff;

const DIGITS_PER_GROUP = 10;
/** add_next_word()'s radix constant (9^9); with a single word its uint32 multiply simply wraps. */
const RADIX_VALUE = 0x17179149;

/** dn_atoui: decimal digits to uint32, wrapping mod 2^32; any non-digit makes the whole group 0. */
function atoui(s: string, from: number, count: number): number {
  let value = 0;
  const stop = Math.min(from + count, s.length);
  for (let i = from; i < stop; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    value = (Math.imul(value, 10) + d) >>> 0;
  }
  return value;
}

/**
 * parse_dyn_token() exactly, quirks included: "0" has signum 0 but "00" has signum 1; "-x" has signum 0xFFFFFFFF;
 * values wrap to 32 bits ("4294967296" -> 0) and strings of 11+ digits are folded wrongly ("12345678901" ->
 * 2733099390). Callers that want sane tokens must validate the text first. Throws where Dynomite would assert.
 */
export function parseDynToken(s: string): DynToken {
  let i = 0;
  let digits = s.length;
  let signum: number;
  if (digits === 0) throw new RangeError('empty dyn token');
  if (s.charCodeAt(0) === 45 /* '-' */) {
    signum = NEGATIVE_SIGNUM;
    i = 1;
    digits--;
    if (digits === 0) throw new RangeError('dyn token "-" has no digits');
  } else if (digits === 1 && s === '0') {
    signum = 0;
  } else {
    signum = 1;
  }
  const first = digits % DIGITS_PER_GROUP || DIGITS_PER_GROUP;
  let mag = atoui(s, i, first);
  for (i += first; i < s.length; i += DIGITS_PER_GROUP) {
    mag = (Math.imul(RADIX_VALUE, mag) + atoui(s, i, DIGITS_PER_GROUP)) >>> 0;
  }
  return { signum, mag };
}

/** The token Dynomite builds from a key hash: set_int_dyn_token(). */
export function hashToDynToken(hash: number): DynToken {
  const mag = hash >>> 0;
  return { signum: mag > 0 ? 1 : 0, mag };
}

/** cmp_dyn_token(): (signum, len, mag) as uint32, where two signum-0 tokens are equal whatever their mag. */
export function compareDynTokens(a: DynToken, b: DynToken): number {
  const sa = a.signum >>> 0;
  const sb = b.signum >>> 0;
  if (sa !== sb) return sa > sb ? 1 : -1;
  if (sa === 0) return 0;
  const ma = a.mag >>> 0;
  const mb = b.mag >>> 0;
  return ma === mb ? 0 : ma > mb ? 1 : -1;
}

/**
 * Maps a token to a number whose order is cmp_dyn_token()'s order, so the ring compares plain doubles:
 * signum 0 -> 0; signum 1 -> mag + 1 (1..2^32); negative -> 2^33 + mag (above everything).
 * Any other signum cannot come from Dynomite's parser or hashes and is refused.
 */
export function dynTokenKey(token: DynToken): number {
  const signum = token.signum >>> 0;
  const mag = token.mag >>> 0;
  if (signum === 0) return 0;
  if (signum === 1) return mag + 1;
  if (signum === NEGATIVE_SIGNUM) return 0x200000000 + mag;
  throw new RangeError(`dyn token signum ${signum} is neither 0, 1 nor -1`);
}

/** dynTokenKey(hashToDynToken(hash)) without building the token. */
export function tokenKeyOfHash(hash: number): number {
  const h = hash >>> 0;
  return h === 0 ? 0 : h + 1;
}

/** The token as Dynomite would print it in a config ("-5" for a negative one). */
export function formatDynToken(token: DynToken): string {
  const mag = String(token.mag >>> 0);
  return (token.signum >>> 0) === NEGATIVE_SIGNUM ? `-${mag}` : mag;
}
