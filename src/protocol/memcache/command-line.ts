// Classifies one memcached command line: tokenizes it and dispatches on the command name as process_command_ascii does.
// Pure and allocation-free: command names are compared as bytes, never turned into strings.
import {
  CMD_ADD, CMD_ADMIN, CMD_APPEND, CMD_CAS, CMD_DECR, CMD_GAT, CMD_GATS, CMD_GET, CMD_GETS, CMD_INCR, CMD_PREPEND,
  CMD_QUIT, CMD_REPLACE, CMD_SET, CMD_STATS, CMD_VERSION, ERR_CLOSE, ERR_ERROR,
} from './command-ids.ts';
import { CLOSE_HTTP, MSG_ERROR } from './errors.ts';
import { LINE_CLOSE, LINE_DONE, type MemcacheRequest } from './request-fields.ts';
import { MAX_COUNTED_TOKENS, bytesOf, tokenize, tokenIs } from './line-tokens.ts';
import {
  classifyArithmetic, classifyDelete, classifyFlushAll, classifyRetrieval, classifyStorage, classifyTouch,
  classifyVerbosity,
} from './classic-commands.ts';
import { classifyMeta } from './meta-commands.ts';

const W = {
  get: bytesOf('get'),
  gets: bytesOf('gets'),
  gat: bytesOf('gat'),
  gats: bytesOf('gats'),
  set: bytesOf('set'),
  stats: bytesOf('stats'),
  shutdown: bytesOf('shutdown'),
  slabs: bytesOf('slabs'),
  add: bytesOf('add'),
  append: bytesOf('append'),
  cas: bytesOf('cas'),
  cacheMemlimit: bytesOf('cache_memlimit'),
  incr: bytesOf('incr'),
  delete: bytesOf('delete'),
  decr: bytesOf('decr'),
  touch: bytesOf('touch'),
  replace: bytesOf('replace'),
  prepend: bytesOf('prepend'),
  bget: bytesOf('bget'),
  flushAll: bytesOf('flush_all'),
  version: bytesOf('version'),
  quit: bytesOf('quit'),
  lruCrawler: bytesOf('lru_crawler'),
  watch: bytesOf('watch'),
  verbosity: bytesOf('verbosity'),
  lru: bytesOf('lru'),
  extstore: bytesOf('extstore'),
  refreshCerts: bytesOf('refresh_certs'),
};
const HTTP_PREFIX = bytesOf('HTTP/');

function accept(r: MemcacheRequest, cmd: number): number {
  r.cmd = cmd;
  return LINE_DONE;
}

function unknown(r: MemcacheRequest): number {
  return r.fail(ERR_ERROR, MSG_ERROR);
}

/**
 * Classifies the command line buf[start, end) (its CR LF already excluded). Returns a LINE_* code; the request's
 * fields describe the frame (cmd, keys, noreply...), or the error memcached would answer.
 */
export function classifyLine(r: MemcacheRequest, buf: Uint8Array, start: number, end: number): number {
  r.clearOutputs();
  // The get family may hold maxKeys keys after its name and exptime; one more token tells "too many".
  const cap = r.maxKeys + 2 > MAX_COUNTED_TOKENS ? r.maxKeys + 2 : MAX_COUNTED_TOKENS;
  const n = tokenize(r, buf, start, end, cap);
  if (n === 0 || r.keyLen[0] < 2) return unknown(r);
  const o = r.keyOff[0];
  const first = buf[o];
  if (first === 109 /* m */ && r.keyLen[0] === 2) return classifyMeta(r, buf, buf[o + 1]);
  // Names are matched within the branch of their first letter only, as memcached does; an unknown name there is
  // "ERROR" without the HTTP check below.
  switch (first) {
    case 103: // g
      if (n < 2) return unknown(r);
      if (tokenIs(r, buf, 0, W.get)) return classifyRetrieval(r, buf, CMD_GET);
      if (tokenIs(r, buf, 0, W.gets)) return classifyRetrieval(r, buf, CMD_GETS);
      if (tokenIs(r, buf, 0, W.gat)) return classifyRetrieval(r, buf, CMD_GAT);
      if (tokenIs(r, buf, 0, W.gats)) return classifyRetrieval(r, buf, CMD_GATS);
      return unknown(r);
    case 115: // s
      if (tokenIs(r, buf, 0, W.set)) return classifyStorage(r, buf, CMD_SET);
      if (tokenIs(r, buf, 0, W.stats)) return accept(r, CMD_STATS);
      if (tokenIs(r, buf, 0, W.shutdown) || tokenIs(r, buf, 0, W.slabs)) return accept(r, CMD_ADMIN);
      return unknown(r);
    case 97: // a
      if (tokenIs(r, buf, 0, W.add)) return classifyStorage(r, buf, CMD_ADD);
      if (tokenIs(r, buf, 0, W.append)) return classifyStorage(r, buf, CMD_APPEND);
      return unknown(r);
    case 99: // c
      if (tokenIs(r, buf, 0, W.cas)) return classifyStorage(r, buf, CMD_CAS);
      if (tokenIs(r, buf, 0, W.cacheMemlimit)) return accept(r, CMD_ADMIN);
      return unknown(r);
    case 105: // i
      if (tokenIs(r, buf, 0, W.incr)) return classifyArithmetic(r, buf, CMD_INCR);
      return unknown(r);
    case 100: // d
      if (tokenIs(r, buf, 0, W.delete)) return classifyDelete(r, buf);
      if (tokenIs(r, buf, 0, W.decr)) return classifyArithmetic(r, buf, CMD_DECR);
      return unknown(r);
    case 116: // t
      if (tokenIs(r, buf, 0, W.touch)) return classifyTouch(r, buf);
      return unknown(r);
    default:
      break;
  }
  if (tokenIs(r, buf, 0, W.replace)) return classifyStorage(r, buf, CMD_REPLACE);
  if (tokenIs(r, buf, 0, W.prepend)) return classifyStorage(r, buf, CMD_PREPEND);
  if (tokenIs(r, buf, 0, W.bget)) return n < 2 ? unknown(r) : classifyRetrieval(r, buf, CMD_GET);
  if (tokenIs(r, buf, 0, W.flushAll)) return classifyFlushAll(r, buf);
  if (tokenIs(r, buf, 0, W.version)) return accept(r, CMD_VERSION);
  if (tokenIs(r, buf, 0, W.quit)) return accept(r, CMD_QUIT);
  if (tokenIs(r, buf, 0, W.verbosity)) return classifyVerbosity(r, buf);
  if (
    tokenIs(r, buf, 0, W.lruCrawler) || tokenIs(r, buf, 0, W.watch) || tokenIs(r, buf, 0, W.lru) ||
    tokenIs(r, buf, 0, W.extstore) || tokenIs(r, buf, 0, W.refreshCerts)
  ) {
    return accept(r, CMD_ADMIN);
  }
  // memcached drops a connection whose unknown command line ends in an "HTTP/..." token.
  const last = (n < MAX_COUNTED_TOKENS ? n : MAX_COUNTED_TOKENS) - 1;
  if (startsWith(buf, r.keyOff[last], r.keyLen[last], HTTP_PREFIX)) {
    r.fail(ERR_CLOSE, CLOSE_HTTP);
    return LINE_CLOSE;
  }
  return unknown(r);
}

function startsWith(buf: Uint8Array, off: number, len: number, prefix: Uint8Array): boolean {
  if (len < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[off + i] !== prefix[i]) return false;
  return true;
}
