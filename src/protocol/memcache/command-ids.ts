// Command ids of the memcached text and meta protocols, and the kinds of error a bad request gets.
// Constants only: nothing here may allocate per request or know about sockets.

/** A request memcached answers with an error (see errorKind/errorMessage) and then reads on. */
export const CMD_INVALID = 0;
export const CMD_GET = 1; // also the ancient `bget`, which memcached 1.6 still serves as get
export const CMD_GETS = 2;
export const CMD_GAT = 3;
export const CMD_GATS = 4;
export const CMD_SET = 5;
export const CMD_ADD = 6;
export const CMD_REPLACE = 7;
export const CMD_APPEND = 8;
export const CMD_PREPEND = 9;
export const CMD_CAS = 10;
export const CMD_DELETE = 11;
export const CMD_INCR = 12;
export const CMD_DECR = 13;
export const CMD_TOUCH = 14;
export const CMD_VERSION = 15;
export const CMD_VERBOSITY = 16;
export const CMD_QUIT = 17;
export const CMD_STATS = 18;
export const CMD_FLUSH_ALL = 19;
export const CMD_MG = 20;
export const CMD_MS = 21;
export const CMD_MD = 22;
export const CMD_MA = 23;
export const CMD_MN = 24;
export const CMD_ME = 25;
/**
 * A node-local administration command (shutdown, slabs, lru_crawler, watch, lru, cache_memlimit, extstore,
 * refresh_certs). Not validated: it has no key, and some of them turn the connection into a log stream, so a
 * proxy should answer it itself rather than forward it.
 */
export const CMD_ADMIN = 26;

const NAMES: readonly string[] = [
  'invalid', 'get', 'gets', 'gat', 'gats', 'set', 'add', 'replace', 'append', 'prepend', 'cas', 'delete', 'incr',
  'decr', 'touch', 'version', 'verbosity', 'quit', 'stats', 'flush_all', 'mg', 'ms', 'md', 'ma', 'mn', 'me', 'admin',
];

/** Lower-case command name for logs and stats ('get', 'ms', ...). */
export function commandName(cmd: number): string {
  return NAMES[cmd] ?? 'unknown';
}

/** set, add, replace, append, prepend, cas and ms: a data block follows the command line. */
export function hasDataBlock(cmd: number): boolean {
  return (cmd >= CMD_SET && cmd <= CMD_CAS) || cmd === CMD_MS;
}

/** get, gets, gat, gats: any number of keys, answered VALUE... END. */
export function isRetrieval(cmd: number): boolean {
  return cmd >= CMD_GET && cmd <= CMD_GATS;
}

// How a bad request is answered, in memcached's own words (errorMessage holds the whole reply line).
export const ERR_NONE = 0;
/** "ERROR": unknown command or wrong number of tokens. */
export const ERR_ERROR = 1;
/** "CLIENT_ERROR <reason>". */
export const ERR_CLIENT = 2;
/** "SERVER_ERROR <reason>" (object too large, too many keys). */
export const ERR_SERVER = 3;
/** No reply: memcached closes the connection (parse() returned PARSE_ERROR). */
export const ERR_CLOSE = 4;
