// What Dynomite's Redis request parser (Netflix/dynomite dev @ 2046b05, src/proto/dyn_redis.c) accepts, as data: its argument
// classes, the rewrites that make a newer form fit with the same meaning and reply, and why anything else is refused.
// Pure: no I/O; dynomiteFit() and dynomiteRewriteOf() never allocate (only dynomiteRefusal(), an error path, builds strings).
import type { CommandSpec } from './command-spec.ts';
import { ALL_COMMANDS, bytesEqualName, findCommand } from './command-table.ts';

/**
 * The classes of /work/shared/vectors/dynomite-commands.json, transcribed. A command outside them, or an argument count
 * outside its class, is a parse error in Dynomite, and on a peer (dnode) link that closes the whole link.
 * A unit test compares this list with the JSON file, so the two cannot drift.
 */
export const DYNOMITE_CLASSES = [
  { class: 'redis_argz', commands: ['PING', 'QUIT', 'SCRIPT FLUSH', 'SCRIPT KILL'] },
  {
    class: 'redis_arg0',
    commands: [
      'PERSIST', 'PTTL', 'TTL', 'TYPE', 'DUMP', 'DECR', 'GET', 'INCR', 'STRLEN', 'HGETALL', 'HKEYS', 'HLEN', 'HVALS', 'LLEN', 'LPOP', 'RPOP',
      'SCARD', 'SMEMBERS', 'SRANDMEMBER', 'ZCARD', 'KEYS', 'PFCOUNT',
    ],
  },
  {
    class: 'redis_arg1',
    commands: [
      'EXPIRE', 'EXPIREAT', 'PEXPIRE', 'PEXPIREAT', 'APPEND', 'DECRBY', 'GETBIT', 'GETSET', 'INCRBY', 'INCRBYFLOAT', 'SETNX', 'HEXISTS',
      'HGET', 'LINDEX', 'LPUSHX', 'RPOPLPUSH', 'RPUSHX', 'SISMEMBER', 'ZRANK', 'ZREVRANK', 'ZSCORE', 'SLAVEOF', 'CONFIG', 'SCRIPT LOAD',
      'SCRIPT EXISTS',
    ],
  },
  { class: 'redis_arg_upto1', commands: ['INFO'] },
  {
    class: 'redis_arg2',
    commands: [
      'GETRANGE', 'PSETEX', 'SETBIT', 'SETEX', 'SETRANGE', 'HINCRBY', 'HINCRBYFLOAT', 'HSET', 'HSETNX', 'LRANGE', 'LREM', 'LSET', 'LTRIM',
      'SMOVE', 'ZCOUNT', 'ZINCRBY', 'ZLEXCOUNT', 'ZREMRANGEBYLEX', 'ZREMRANGEBYRANK', 'ZREMRANGEBYSCORE', 'RESTORE',
    ],
  },
  { class: 'redis_arg3', commands: ['LINSERT'] },
  {
    class: 'redis_argn',
    commands: [
      'SORT', 'BITCOUNT', 'SET', 'SCAN', 'HDEL', 'HMGET', 'HMSET', 'HSCAN', 'LPUSH', 'RPUSH', 'SADD', 'SDIFF', 'SDIFFSTORE', 'SINTER',
      'SINTERSTORE', 'SREM', 'SUNION', 'SUNIONSTORE', 'SSCAN', 'SPOP', 'ZADD', 'ZINTERSTORE', 'ZRANGE', 'ZRANGEBYSCORE', 'ZREM', 'ZREVRANGE',
      'ZRANGEBYLEX', 'ZREVRANGEBYLEX', 'ZREVRANGEBYSCORE', 'ZUNIONSTORE', 'ZSCAN', 'PFADD', 'GEOADD', 'GEORADIUS', 'GEODIST', 'GEOHASH',
      'GEOPOS', 'GEORADIUSBYMEMBER', 'JSON.SET', 'JSON.GET', 'JSON.DEL', 'JSON.TYPE', 'JSON.MGET', 'JSON.ARRAPPEND', 'JSON.ARRINSERT',
      'JSON.ARRLEN', 'JSON.OBJKEYS', 'JSON.OBJLEN',
    ],
  },
  { class: 'redis_argx', commands: ['MGET', 'DEL', 'EXISTS'] },
  { class: 'redis_argkvx', commands: ['MSET'] },
  { class: 'redis_argeval', commands: ['EVAL', 'EVALSHA'] },
] as const;

export type DynomiteClassName = (typeof DYNOMITE_CLASSES)[number]['class'];

/** dynomiteFit(): Dynomite takes the request as it is. */
export const DYN_FITS = 0;
/** dynomiteFit(): it fits once rewritten (dynomiteRewriteOf()), with the same meaning and the same reply. */
export const DYN_REWRITE = 1;
/** dynomiteFit(): no form of it fits; dynomiteRefusal() says why. */
export const DYN_REFUSED = 2;

/**
 * Dynomite refuses a key of mbuf_data_size() bytes or more: its mbuf_size less the mbuf header. The header is a few
 * dozen bytes; 128 keeps a margin. With Dynomite's default mbuf_size (16384) keys may have up to 16255 bytes.
 */
export const DYNOMITE_MBUF_HEADER_MARGIN = 128;
export const DYNOMITE_DEFAULT_MAX_KEY_BYTES = 16384 - DYNOMITE_MBUF_HEADER_MARGIN - 1;

// Class codes, 0 = not a command Dynomite knows.
const ARGZ = 1;
const ARG0 = 2;
const ARG1 = 3;
const UPTO1 = 4;
const ARG2 = 5;
const ARG3 = 6;
const ARGN = 7;
const ARGX = 8;
const ARGKVX = 9;
const ARGEVAL = 10;
const CODE_OF: Record<DynomiteClassName, number> = {
  redis_argz: ARGZ,
  redis_arg0: ARG0,
  redis_arg1: ARG1,
  redis_arg_upto1: UPTO1,
  redis_arg2: ARG2,
  redis_arg3: ARG3,
  redis_argn: ARGN,
  redis_argx: ARGX,
  redis_argkvx: ARGKVX,
  redis_argeval: ARGEVAL,
};
/** What each class takes after the command name, in the words of a refusal. */
const SHAPE = [
  '',
  'no arguments',
  'exactly one key',
  'a key and exactly 1 argument',
  'at most 1 argument',
  'a key and exactly 2 arguments',
  'a key and exactly 3 arguments',
  'a key and any number of arguments',
  'one or more keys',
  'one or more key value pairs',
  'a script, numkeys (at least 1), the keys, then any arguments',
];

/** Our spec for a Dynomite command name ('SCRIPT LOAD' -> script|load), or undefined (JSON.* are module commands we do not route). */
function specNamed(name: string): CommandSpec | undefined {
  const words = name.toLowerCase().split(' ');
  const top = Buffer.from(words[0], 'latin1');
  const spec = findCommand(undefined, top, 0, top.length);
  if (spec === undefined || words.length === 1) return spec;
  const sub = Buffer.from(words[1], 'latin1');
  return findCommand(spec, sub, 0, sub.length);
}

const maxId = ALL_COMMANDS.reduce((m, s) => Math.max(m, s.id), 0);
/** Dynomite class code by CommandSpec.id. */
const CLASS_BY_ID = new Uint8Array(maxId + 1);
for (const c of DYNOMITE_CLASSES) {
  for (const name of c.commands) {
    const spec = specNamed(name);
    if (spec !== undefined) CLASS_BY_ID[spec.id] = CODE_OF[c.class];
  }
}

/**
 * A rewrite that Dynomite takes and that means and answers exactly what the client's form does:
 * `to` replaces the command name and the first `keep` arguments (the name included) are kept, so key positions do not move.
 */
export interface DynomiteRewrite {
  readonly from: string;
  /** The name sent instead, lower case (as Dynomite's own fragmenter writes `mget`). */
  readonly to: string;
  readonly toBytes: Uint8Array;
  /** The spec of the rewritten form: what routing must treat it as from there on. */
  readonly toSpec: CommandSpec;
  /** Arguments kept, the name included; -1 keeps them all. */
  readonly keep: number;
  /** Why the two forms are the same, for docs/commands.md and reviewers. */
  readonly why: string;
  /** Whether this request's arguments allow the rewrite (beyond the name). */
  readonly applies: (buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number) => boolean;
}

const always = (): boolean => true;

function rewrite(from: string, to: string, keep: number, why: string, applies: DynomiteRewrite['applies'] = always): DynomiteRewrite {
  const toSpec = specNamed(to);
  if (toSpec === undefined || specNamed(from) === undefined) throw new Error(`dynomite rewrite ${from} -> ${to}: unknown command`);
  return { from, to, toBytes: Buffer.from(to, 'latin1'), toSpec, keep, why, applies };
}

export const DYNOMITE_REWRITES: readonly DynomiteRewrite[] = [
  rewrite('unlink', 'del', -1, 'UNLINK removes the keys like DEL and answers the same count; only the freeing of memory happens later'),
  rewrite('substr', 'getrange', -1, 'SUBSTR is the old name of GETRANGE: Redis runs the same code for both'),
  rewrite('getex', 'get', 2, 'GETEX with no option reads the value and leaves the TTL alone, exactly like GET', (_b, _o, _l, argc) => argc === 2),
  rewrite(
    'lmove',
    'rpoplpush',
    3,
    'LMOVE src dst RIGHT LEFT is what RPOPLPUSH src dst does (Redis implements RPOPLPUSH that way), with the same reply',
    (buf, argOff, argLen, argc) => argc === 5 && bytesEqualName(buf, argOff[3], argLen[3], 'right') && bytesEqualName(buf, argOff[4], argLen[4], 'left'),
  ),
];

/** Index + 1 into DYNOMITE_REWRITES, by CommandSpec.id. */
const REWRITE_BY_ID = new Uint8Array(maxId + 1);
DYNOMITE_REWRITES.forEach((r, i) => {
  REWRITE_BY_ID[(specNamed(r.from) as CommandSpec).id] = i + 1;
});

/** The class of a spec as a Dynomite class name, or undefined when Dynomite's parser does not know the command. */
export function dynomiteClassOf(spec: CommandSpec): DynomiteClassName | undefined {
  const code = CLASS_BY_ID[spec.id];
  return code === 0 ? undefined : (Object.keys(CODE_OF) as DynomiteClassName[]).find((k) => CODE_OF[k] === code);
}

/** A key Dynomite takes: not empty, shorter than its buffer. maxKeyBytes < 0 checks the shape only (for refusal wording). */
function keyOk(argLen: Int32Array, i: number, maxKeyBytes: number): boolean {
  const n = argLen[i];
  return maxKeyBytes < 0 || (n > 0 && n <= maxKeyBytes);
}

/** EVAL's numkeys as Dynomite reads it (decimal digits only, at least 1), or -1. */
function evalKeys(buf: Uint8Array, off: number, len: number): number {
  if (len < 1 || len > 9) return -1;
  let v = 0;
  for (let i = off, end = off + len; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Whether argv, read as Dynomite reads it, fits class `code`. `words` is the command name's length in arguments
 * (2 for SCRIPT LOAD); arguments after it are counted as Dynomite counts them. Empty keys and keys as long as
 * Dynomite's buffer are parse errors there too.
 */
function fits(code: number, words: number, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, maxKeyBytes: number): boolean {
  const after = argc - words;
  switch (code) {
    case ARGZ:
      return after === 0;
    case ARG0:
      return after === 1 && keyOk(argLen, words, maxKeyBytes);
    case ARG1:
      // SCRIPT LOAD <body> and SCRIPT EXISTS <sha>: the parser reads the one argument as an argument, not a key.
      return words === 2 ? after === 1 : after === 2 && keyOk(argLen, words, maxKeyBytes);
    case UPTO1:
      return after <= 1;
    case ARG2:
      return after === 3 && keyOk(argLen, words, maxKeyBytes);
    case ARG3:
      return after === 4 && keyOk(argLen, words, maxKeyBytes);
    case ARGN:
      return after >= 1 && keyOk(argLen, words, maxKeyBytes);
    case ARGX:
      if (after < 1) return false;
      for (let i = words; i < argc; i++) if (!keyOk(argLen, i, maxKeyBytes)) return false;
      return true;
    case ARGKVX:
      if (after < 2 || after % 2 !== 0) return false;
      for (let i = words; i < argc; i += 2) if (!keyOk(argLen, i, maxKeyBytes)) return false;
      return true;
    case ARGEVAL: {
      if (after < 3) return false;
      const nk = evalKeys(buf, argOff[words + 1], argLen[words + 1]);
      if (nk < 1 || nk > after - 2) return false;
      for (let i = words + 2; i < words + 2 + nk; i++) if (!keyOk(argLen, i, maxKeyBytes)) return false;
      return true;
    }
    default:
      return false;
  }
}

function wordsOf(spec: CommandSpec): number {
  return spec.parent === undefined ? 1 : 2;
}

function rewriteFits(r: DynomiteRewrite, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, maxKeyBytes: number): boolean {
  if (!r.applies(buf, argOff, argLen, argc)) return false;
  const n = r.keep < 0 ? argc : r.keep;
  return fits(CLASS_BY_ID[r.toSpec.id], 1, buf, argOff, argLen, n, maxKeyBytes);
}

/**
 * DYN_FITS, DYN_REWRITE or DYN_REFUSED for a request (argv as the RESP parser reports it, already resolved to `spec`
 * and arity-checked) about to be sent to a Dynomite peer. A split command (MGET, DEL, EXISTS, MSET, UNLINK) that fits
 * as a whole also fits piece by piece: every piece has the same name and at least one key (or pair).
 */
export function dynomiteFit(
  spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, maxKeyBytes = DYNOMITE_DEFAULT_MAX_KEY_BYTES,
): number {
  const code = CLASS_BY_ID[spec.id];
  if (code !== 0 && fits(code, wordsOf(spec), buf, argOff, argLen, argc, maxKeyBytes)) return DYN_FITS;
  const r = REWRITE_BY_ID[spec.id];
  if (r !== 0 && rewriteFits(DYNOMITE_REWRITES[r - 1], buf, argOff, argLen, argc, maxKeyBytes)) return DYN_REWRITE;
  return DYN_REFUSED;
}

/** The rewrite for a request dynomiteFit() called DYN_REWRITE (undefined for any other). */
export function dynomiteRewriteOf(
  spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, maxKeyBytes = DYNOMITE_DEFAULT_MAX_KEY_BYTES,
): DynomiteRewrite | undefined {
  const r = REWRITE_BY_ID[spec.id];
  if (r === 0) return undefined;
  const rw = DYNOMITE_REWRITES[r - 1];
  return rewriteFits(rw, buf, argOff, argLen, argc, maxKeyBytes) ? rw : undefined;
}

/** Why Dynomite's parser refuses a request dynomiteFit() called DYN_REFUSED, in a sentence (no client bytes quoted). */
export function dynomiteRefusal(
  spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, maxKeyBytes = DYNOMITE_DEFAULT_MAX_KEY_BYTES,
): string {
  const name = displayName(spec);
  const code = CLASS_BY_ID[spec.id];
  if (code === 0) return `Dynomite's parser does not know ${name}`;
  const words = wordsOf(spec);
  if (fits(code, words, buf, argOff, argLen, argc, -1)) {
    // Only a key is wrong.
    for (let i = words; i < argc; i++) {
      if (argLen[i] === 0) return `Dynomite's parser refuses an empty key`;
    }
    return `Dynomite's parser refuses a key longer than ${maxKeyBytes} bytes`;
  }
  if (code === ARGEVAL && argc - words >= 3) return `Dynomite takes ${name} only with numkeys of at least 1, written in plain digits`;
  // Classes with a key count what follows the key, as their shape does.
  const keyed = code >= ARG0 && code <= ARGN && code !== UPTO1 && argc - words >= 1;
  const given = argc - words - (keyed ? 1 : 0);
  const where = keyed ? 'the key' : 'the name';
  return `Dynomite takes ${name} only with ${SHAPE[code]}, and this call has ${given} argument${given === 1 ? '' : 's'} after ${where}`;
}

/** SET, SCRIPT LOAD: how a command is named to users. */
export function displayName(spec: CommandSpec): string {
  return spec.name.replace('|', ' ').toUpperCase();
}
