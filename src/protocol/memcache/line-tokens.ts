// Splits a memcached command line into tokens the way memcached's tokenize_command does, into offset arrays.
// Pure and allocation-free per line (token arrays grow by doubling only); never reads outside [start, end).
import type { MemcacheRequest } from './request-fields.ts';

/**
 * memcached splits on ' ' only (a tab is part of a token), and at most 23 tokens: commands other than the get
 * family see the 23rd token as the last one, so their arity is judged on min(count, 23).
 */
export const MAX_COUNTED_TOKENS = 23;

export function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

const NOREPLY = bytesOf('noreply');

/**
 * Tokenizes buf[start, end) into r.keyOff/r.keyLen; returns the token count. The line ends early at a NUL byte,
 * as memcached sees it through strlen(). Stops after `cap` tokens, setting r.tokensOverflow if more followed.
 */
export function tokenize(r: MemcacheRequest, buf: Uint8Array, start: number, end: number, cap: number): number {
  let off = r.keyOff;
  let len = r.keyLen;
  let n = 0;
  let i = start;
  r.tokensOverflow = false;
  for (;;) {
    while (i < end && buf[i] === 32) i++;
    if (i >= end || buf[i] === 0) break;
    if (n === cap) {
      r.tokensOverflow = true;
      break;
    }
    const s = i;
    let c = buf[i];
    while (c !== 32 && c !== 0) {
      if (++i === end) break;
      c = buf[i];
    }
    if (n === off.length) {
      r.ensureKeyCapacity(n + 1, n);
      off = r.keyOff;
      len = r.keyLen;
    }
    off[n] = s;
    len[n] = i - s;
    n++;
    if (i < end && buf[i] === 0) break;
  }
  r.tokenCount = n;
  return n;
}

/** Whether token i equals `word`. */
export function tokenIs(r: MemcacheRequest, buf: Uint8Array, i: number, word: Uint8Array): boolean {
  const n = word.length;
  if (r.keyLen[i] !== n) return false;
  const o = r.keyOff[i];
  for (let k = 0; k < n; k++) if (buf[o + k] !== word[k]) return false;
  return true;
}

/** memcached's set_noreply_maybe: the last counted token is "noreply". */
export function lastTokenIsNoreply(r: MemcacheRequest, buf: Uint8Array, counted: number): boolean {
  return counted > 0 && tokenIs(r, buf, counted - 1, NOREPLY);
}
