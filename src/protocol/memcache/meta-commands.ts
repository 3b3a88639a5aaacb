// Validation of memcached's meta commands (mg, ms, md, ma, mn, me) from their tokens, as proto_text.c 1.6.18 does it.
// Pure and allocation-free: reads tokens from the request's arrays and writes its fields; never does I/O.
import {
  CMD_MA, CMD_MD, CMD_ME, CMD_MG, CMD_MN, CMD_MS, ERR_CLIENT, ERR_ERROR, ERR_SERVER,
} from './command-ids.ts';
import { cLongToInt32, isCUnsigned } from './c-number.ts';
import { decodeBase64Key } from './base64-key.ts';
import {
  MSG_BAD_DELTA_VALUE, MSG_BAD_FORMAT, MSG_BAD_INITIAL, MSG_BAD_TOKEN, MSG_DECODING_KEY, MSG_DUPLICATE_FLAG,
  MSG_ERROR, MSG_FLAGS_TOO_LONG, MSG_INVALID_FLAG, MSG_INVALID_OR_DUPLICATE_FLAG, MSG_MA_MODE, MSG_MG_FLAGS_TOO_LONG,
  MSG_MS_MODE, MSG_M_TOKEN_LENGTH, MSG_OPAQUE_TOO_LONG, MSG_TOO_LARGE,
} from './errors.ts';
import { LINE_DATA, LINE_DONE, LINE_SWALLOW, type MemcacheRequest } from './request-fields.ts';
import { MAX_COUNTED_TOKENS, bytesOf, tokenIs } from './line-tokens.ts';

// memcached's MFLAG_MAX_OPT_LENGTH (compared with the token count plus its terminal token) and opaque limit.
const MAX_OPTION_TOKENS = 20;
const MAX_OPAQUE_TOKEN = 32;
const MAX_DATA_LENGTH = 0x7fffffff - 2;
const B = bytesOf('b');

/** Flag letters seen on the current line: 128 bits. */
const seen = new Int32Array(4);

/**
 * memcached's _meta_flag_preparse over tokens [start, n): returns '' or the error line. A duplicate or unknown
 * flag ends the scan at once; a bad flag value is remembered and the scan goes on, so a later duplicate or
 * unknown flag, or a later bad value, decides the message.
 */
function preparseFlags(r: MemcacheRequest, buf: Uint8Array, start: number, n: number): string {
  seen.fill(0);
  let message = MSG_BAD_FORMAT;
  let hasError = false;
  for (let i = start; i < n; i++) {
    const o = r.keyOff[i];
    const end = o + r.keyLen[i];
    const f = buf[o];
    if (f >= 127 || (seen[f >> 5] & (1 << (f & 31))) !== 0) return MSG_DUPLICATE_FLAG;
    seen[f >> 5] |= 1 << (f & 31);
    switch (f) {
      case 98: {
        // b: the key is base64; memcached stores (and we hash) the decoded bytes.
        const len = decodeBase64Key(buf, r.keyOff[1], r.keyLen[1], r.decodedKey, 0);
        r.keyBinary = true;
        r.decodedKeyLen = len < 0 ? 0 : len;
        if (len < 0) {
          message = MSG_DECODING_KEY;
          hasError = true;
        }
        break;
      }
      case 78: // N vivify TTL
      case 84: // T TTL
      case 82: // R recache TTL
        if (Number.isNaN(cLongToInt32(buf, o + 1, end))) {
          message = MSG_BAD_TOKEN;
          hasError = true;
        }
        break;
      case 67: // C compare cas
        if (!isCUnsigned(buf, o + 1, end)) {
          message = MSG_BAD_TOKEN;
          hasError = true;
        }
        break;
      case 70: // F client flags: memcached keeps its default message here
        if (!isCUnsigned(buf, o + 1, end)) hasError = true;
        break;
      case 77: // M mode switch
        if (end - o !== 2) {
          message = MSG_M_TOKEN_LENGTH;
          hasError = true;
        } else r.metaMode = buf[o + 1];
        break;
      case 74: // J initial value
        if (!isCUnsigned(buf, o + 1, end)) {
          message = MSG_BAD_INITIAL;
          hasError = true;
        }
        break;
      case 68: // D delta
        if (!isCUnsigned(buf, o + 1, end)) {
          message = MSG_BAD_DELTA_VALUE;
          hasError = true;
        }
        break;
      case 79: // O opaque
        r.opaqueOff = o + 1;
        r.opaqueLen = end - o - 1;
        break;
      case 108: // l
      case 80: // P
      case 76: // L
      case 107: // k
      case 115: // s
      case 116: // t
      case 99: // c
      case 102: // f
      case 118: // v
      case 113: // q: memcached goes quiet on any token starting with q; the proxy cuts only a bare " q" (so the backend answers)
        if (end - o !== 1) return MSG_INVALID_FLAG;
        break;
      case 104: // h
      case 117: // u
      case 73: // I
        break;
      default:
        return MSG_INVALID_FLAG;
    }
    r.noteMetaFlag(f);
  }
  return hasError ? message : '';
}

function opaqueTooLong(r: MemcacheRequest): boolean {
  return r.opaqueLen + 1 > MAX_OPAQUE_TOKEN;
}

/** Token 1 is the key; flag tokens start at `flagsFrom`. */
function accept(r: MemcacheRequest, cmd: number, flagsFrom: number): void {
  const n = r.tokenCount;
  const keyEnd = r.keyOff[1] + r.keyLen[1];
  r.flagsStart = flagsFrom < n ? r.keyOff[flagsFrom] : keyEnd;
  r.flagsEnd = flagsFrom < n ? r.keyOff[n - 1] + r.keyLen[n - 1] : r.flagsStart;
  r.keyOff[0] = r.keyOff[1];
  r.keyLen[0] = r.keyLen[1];
  r.keyCount = 1;
  r.quiet = r.hasMetaFlag(113);
  r.cmd = cmd;
}

/** A meta command: `second` is the command's second letter (mg -> 'g'). */
export function classifyMeta(r: MemcacheRequest, buf: Uint8Array, second: number): number {
  const n = r.tokenCount < MAX_COUNTED_TOKENS ? r.tokenCount : MAX_COUNTED_TOKENS;
  switch (second) {
    case 110: // mn
      r.cmd = CMD_MN;
      return LINE_DONE;
    case 101: // me <key> [b]
      if (n < 2 || r.keyLen[1] > r.maxKeyLength) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
      if (n >= 3 && tokenIs(r, buf, 2, B)) {
        const len = decodeBase64Key(buf, r.keyOff[1], r.keyLen[1], r.decodedKey, 0);
        if (len < 0) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
        r.keyBinary = true;
        r.decodedKeyLen = len;
      }
      accept(r, CMD_ME, n);
      return LINE_DONE;
    case 103: // mg
    case 100: // md
    case 97: // ma
      return classifyKeyed(r, buf, second, n);
    case 115: // ms
      return classifySet(r, buf, n);
    default:
      return r.fail(ERR_ERROR, MSG_ERROR);
  }
}

/** mg, md, ma <key> <flag>*. */
function classifyKeyed(r: MemcacheRequest, buf: Uint8Array, second: number, n: number): number {
  if (n < 2) return r.fail(ERR_ERROR, MSG_ERROR);
  if (r.keyLen[1] > r.maxKeyLength) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  const isGet = second === 103;
  if (n + 1 > MAX_OPTION_TOKENS) return r.fail(ERR_CLIENT, isGet ? MSG_MG_FLAGS_TOO_LONG : MSG_FLAGS_TOO_LONG);
  const err = preparseFlags(r, buf, 2, n);
  // md and ma answer every flag problem with one message.
  if (err !== '') return r.fail(ERR_CLIENT, isGet ? err : MSG_INVALID_OR_DUPLICATE_FLAG);
  if (second === 97) {
    const m = r.metaMode;
    if (m !== 0 && m !== 73 && m !== 43 && m !== 68 && m !== 45) return r.fail(ERR_CLIENT, MSG_MA_MODE);
  }
  if (opaqueTooLong(r)) return r.fail(ERR_CLIENT, MSG_OPAQUE_TOO_LONG);
  accept(r, isGet ? CMD_MG : second === 100 ? CMD_MD : CMD_MA, 2);
  return LINE_DONE;
}

/**
 * ms <key> <datalen> <flag>*. Errors found before the data length is known leave the data block to be read as
 * commands (as memcached does); later ones discard it.
 */
function classifySet(r: MemcacheRequest, buf: Uint8Array, n: number): number {
  if (n < 2) return r.fail(ERR_ERROR, MSG_ERROR);
  if (r.keyLen[1] > r.maxKeyLength || n === 2) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  if (n + 1 > MAX_OPTION_TOKENS) return r.fail(ERR_CLIENT, MSG_FLAGS_TOO_LONG);
  const vlen = cLongToInt32(buf, r.keyOff[2], r.keyOff[2] + r.keyLen[2]);
  if (Number.isNaN(vlen) || vlen < 0 || vlen > MAX_DATA_LENGTH) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  const swallow = vlen + 2;
  const err = preparseFlags(r, buf, 3, n);
  if (err !== '') return r.failSwallow(ERR_CLIENT, err, swallow);
  const m = r.metaMode;
  if (m !== 0 && m !== 69 && m !== 65 && m !== 80 && m !== 82 && m !== 83) {
    return r.failSwallow(ERR_CLIENT, MSG_MS_MODE, swallow);
  }
  if (opaqueTooLong(r)) return r.failSwallow(ERR_CLIENT, MSG_OPAQUE_TOO_LONG, swallow);
  if (vlen > r.maxValueBytes) {
    r.failSwallow(ERR_SERVER, MSG_TOO_LARGE, swallow);
    // memcached unlinks the key after a too-large ms, as after a too-large set.
    r.keyOff[0] = r.keyOff[1];
    r.keyLen[0] = r.keyLen[1];
    r.keyCount = 1;
    return LINE_SWALLOW;
  }
  accept(r, CMD_MS, 3);
  r.dataLen = vlen;
  return LINE_DATA;
}
