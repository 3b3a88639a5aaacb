// Base64 key decoding for the meta protocol's `b` flag, with exactly memcached 1.6's acceptance rules.
// Pure and allocation-free: decodes into a caller's buffer; never throws on bad input.
//
// memcached's decoder (base64.c) is lenient in its own way, and placement must agree with it, so we follow it:
// bytes outside the alphabet are skipped; the count of alphabet bytes ('=' included) must be a non-zero multiple
// of 4; decoding stops after the first 4-byte block that holds any '=', dropping one output byte per '=' (three
// or four '=' in that block is a failure).

const INVALID = 0x80;
const PAD = 61; // '='

const DECODE = new Uint8Array(256).fill(INVALID);
{
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) DECODE[alphabet.charCodeAt(i)] = i;
  DECODE[PAD] = 0;
}

/**
 * Decodes src[off, off+len) into out at outOff. Returns the decoded length (at least 1), or -1 where memcached
 * answers "CLIENT_ERROR error decoding key". out needs len*3/4 bytes from outOff.
 */
export function decodeBase64Key(src: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): number {
  const end = off + len;
  let count = 0;
  for (let i = off; i < end; i++) if (DECODE[src[i]] !== INVALID) count++;
  if (count === 0 || count % 4 !== 0) return -1;
  let o = outOff;
  let n = 0;
  let pad = 0;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = off; i < end; i++) {
    const c = src[i];
    const v = DECODE[c];
    if (v === INVALID) continue;
    if (c === PAD) pad++;
    if (n === 0) b0 = v;
    else if (n === 1) b1 = v;
    else if (n === 2) b2 = v;
    n++;
    if (n === 4) {
      out[o] = (b0 << 2) | (b1 >> 4);
      out[o + 1] = (b1 << 4) | (b2 >> 2);
      out[o + 2] = (b2 << 6) | v;
      o += 3;
      n = 0;
      if (pad > 0) {
        if (pad > 2) return -1;
        o -= pad;
        break;
      }
    }
  }
  return o - outOff;
}
