// Validation of memcached's classic text commands from their tokens, in the order and words of proto_text.c 1.6.18.
// Pure and allocation-free: reads tokens from the request's arrays and writes its fields; never does I/O.
import {
  CMD_CAS, CMD_DELETE, CMD_FLUSH_ALL, CMD_GAT, CMD_GATS, CMD_TOUCH, CMD_VERBOSITY,
  ERR_CLIENT, ERR_ERROR, ERR_SERVER,
} from './command-ids.ts';
import { cLongToInt32, isCUnsigned } from './c-number.ts';
import {
  MSG_BAD_DELETE, MSG_BAD_DELTA, MSG_BAD_EXPTIME, MSG_BAD_FORMAT, MSG_ERROR, MSG_TOO_LARGE, MSG_TOO_MANY_KEYS,
} from './errors.ts';
import { LINE_DATA, LINE_DONE, LINE_SWALLOW, type MemcacheRequest } from './request-fields.ts';
import { MAX_COUNTED_TOKENS, bytesOf, lastTokenIsNoreply, tokenIs } from './line-tokens.ts';

const ZERO = bytesOf('0');
const MAX_DATA_LENGTH = 0x7fffffff - 2;

function counted(r: MemcacheRequest): number {
  return r.tokenCount < MAX_COUNTED_TOKENS ? r.tokenCount : MAX_COUNTED_TOKENS;
}

function keyTooLong(r: MemcacheRequest, i: number): boolean {
  return r.keyLen[i] > r.maxKeyLength;
}

function numberToken(r: MemcacheRequest, buf: Uint8Array, i: number): number {
  const o = r.keyOff[i];
  return cLongToInt32(buf, o, o + r.keyLen[i]);
}

function unsignedToken(r: MemcacheRequest, buf: Uint8Array, i: number): boolean {
  const o = r.keyOff[i];
  return isCUnsigned(buf, o, o + r.keyLen[i]);
}

/** The key is token 1: make it the only key. */
function singleKey(r: MemcacheRequest, cmd: number): number {
  r.keyOff[0] = r.keyOff[1];
  r.keyLen[0] = r.keyLen[1];
  r.keyCount = 1;
  r.cmd = cmd;
  return LINE_DONE;
}

/** set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply], cas ... <cas unique> [noreply]. */
export function classifyStorage(r: MemcacheRequest, buf: Uint8Array, cmd: number): number {
  const n = counted(r);
  const isCas = cmd === CMD_CAS;
  if (isCas ? n !== 6 && n !== 7 : n !== 5 && n !== 6) return r.fail(ERR_ERROR, MSG_ERROR);
  // Everything after the arity check is silenced by noreply, data-block errors included.
  r.noreply = lastTokenIsNoreply(r, buf, n);
  if (keyTooLong(r, 1)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  const vlen = numberToken(r, buf, 4);
  if (!unsignedToken(r, buf, 2) || Number.isNaN(numberToken(r, buf, 3)) || Number.isNaN(vlen)) {
    return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  }
  if (isCas && !unsignedToken(r, buf, 5)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  if (vlen < 0 || vlen > MAX_DATA_LENGTH) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  if (vlen > r.maxValueBytes) {
    r.failSwallow(ERR_SERVER, MSG_TOO_LARGE, vlen + 2);
    // memcached also unlinks the key of a too-large set: keep it visible so a proxy can do the same.
    r.keyOff[0] = r.keyOff[1];
    r.keyLen[0] = r.keyLen[1];
    r.keyCount = 1;
    return LINE_SWALLOW;
  }
  singleKey(r, cmd);
  r.dataLen = vlen;
  return LINE_DATA;
}

/** get/gets <key>*, gat/gats <exptime> <key>*: every key is checked; a key-less gat is valid (memcached: END). */
export function classifyRetrieval(r: MemcacheRequest, buf: Uint8Array, cmd: number): number {
  const n = r.tokenCount;
  if (n < 2) return r.fail(ERR_ERROR, MSG_ERROR);
  let first = 1;
  if (cmd === CMD_GAT || cmd === CMD_GATS) {
    if (Number.isNaN(numberToken(r, buf, 1))) return r.fail(ERR_CLIENT, MSG_BAD_EXPTIME);
    first = 2;
  }
  // A key too long anywhere fails the whole request, as memcached drops the values it had gathered.
  for (let i = first; i < n; i++) if (keyTooLong(r, i)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  if (r.tokensOverflow || n - first > r.maxKeys) return r.fail(ERR_SERVER, MSG_TOO_MANY_KEYS);
  r.keyOff.copyWithin(0, first, n);
  r.keyLen.copyWithin(0, first, n);
  r.keyCount = n - first;
  r.cmd = cmd;
  return LINE_DONE;
}

/** delete <key> [0] [noreply]: memcached 1.6 accepts a hold time only if it is "0". */
export function classifyDelete(r: MemcacheRequest, buf: Uint8Array): number {
  const n = counted(r);
  if (n < 2 || n > 4) return r.fail(ERR_ERROR, MSG_ERROR);
  if (n > 2) {
    const holdIsZero = tokenIs(r, buf, 2, ZERO);
    const noreply = lastTokenIsNoreply(r, buf, n);
    r.noreply = noreply;
    const valid = (n === 3 && (holdIsZero || noreply)) || (n === 4 && holdIsZero && noreply);
    if (!valid) return r.fail(ERR_CLIENT, MSG_BAD_DELETE);
  }
  if (keyTooLong(r, 1)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  return singleKey(r, CMD_DELETE);
}

/** incr/decr <key> <value> [noreply]. */
export function classifyArithmetic(r: MemcacheRequest, buf: Uint8Array, cmd: number): number {
  const n = counted(r);
  if (n !== 3 && n !== 4) return r.fail(ERR_ERROR, MSG_ERROR);
  r.noreply = lastTokenIsNoreply(r, buf, n);
  if (keyTooLong(r, 1)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  if (!unsignedToken(r, buf, 2)) return r.fail(ERR_CLIENT, MSG_BAD_DELTA);
  return singleKey(r, cmd);
}

/** touch <key> <exptime> [noreply]. */
export function classifyTouch(r: MemcacheRequest, buf: Uint8Array): number {
  const n = counted(r);
  if (n !== 3 && n !== 4) return r.fail(ERR_ERROR, MSG_ERROR);
  r.noreply = lastTokenIsNoreply(r, buf, n);
  if (keyTooLong(r, 1)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  if (Number.isNaN(numberToken(r, buf, 2))) return r.fail(ERR_CLIENT, MSG_BAD_EXPTIME);
  return singleKey(r, CMD_TOUCH);
}

/** verbosity <level> [noreply]. */
export function classifyVerbosity(r: MemcacheRequest, buf: Uint8Array): number {
  const n = counted(r);
  if (n !== 2 && n !== 3) return r.fail(ERR_ERROR, MSG_ERROR);
  r.noreply = lastTokenIsNoreply(r, buf, n);
  if (!unsignedToken(r, buf, 1)) return r.fail(ERR_CLIENT, MSG_BAD_FORMAT);
  r.cmd = CMD_VERBOSITY;
  return LINE_DONE;
}

/** flush_all [delay] [noreply]. */
export function classifyFlushAll(r: MemcacheRequest, buf: Uint8Array): number {
  const n = counted(r);
  if (n > 3) return r.fail(ERR_ERROR, MSG_ERROR);
  r.noreply = lastTokenIsNoreply(r, buf, n);
  if (n !== (r.noreply ? 2 : 1) && Number.isNaN(numberToken(r, buf, 1))) return r.fail(ERR_CLIENT, MSG_BAD_EXPTIME);
  r.cmd = CMD_FLUSH_ALL;
  return LINE_DONE;
}
