// The shape of one command-table entry: flag bits, routing shapes and key layouts, as plain data.
// Types and constants only: never holds state, never does I/O.

// Flag bits mirror the Redis 7 command flags of the same name (COMMAND INFO); only the ones routing cares about.
export const F_WRITE = 1;
export const F_READONLY = 2;
export const F_DENYOOM = 4;
export const F_ADMIN = 8;
export const F_PUBSUB = 16;
export const F_NOSCRIPT = 32;
export const F_BLOCKING = 64;
export const F_LOADING = 128;
export const F_STALE = 256;
export const F_FAST = 512;
export const F_MOVABLEKEYS = 1024;

/** Redis flag names, in bit order, as COMMAND INFO spells them. */
export const FLAG_NAMES: readonly string[] = [
  'write', 'readonly', 'denyoom', 'admin', 'pubsub', 'noscript', 'blocking', 'loading', 'stale', 'fast', 'movablekeys',
];

export type Route =
  /** Every key maps to one owner by construction (one key, or keys that name the same key): forward the client's bytes as is. */
  | 'single'
  /** Several keys; allowed only when all map to one backend (hash tags), else the proxy answers -ERR. No keys: any one backend. */
  | 'same-node'
  /** MGET: split per backend, array replies merged back in key order. */
  | 'split-concat'
  /** DEL, UNLINK, EXISTS, TOUCH: split per backend, integer replies summed. */
  | 'split-sum'
  /** MSET: key/value pairs split per backend, +OK when every part succeeds. */
  | 'split-pairs'
  /** Answered by the proxy itself: it describes the client's connection to the proxy, which no backend knows. */
  | 'proxy'
  /** Sent to every backend; the first error, else the first reply, is returned (SCRIPT LOAD, FUNCTION LOAD ...). */
  | 'broadcast'
  /** Sent to every backend holding one full copy of the keyspace; integer replies summed (DBSIZE). */
  | 'broadcast-sum'
  /** No keys, and any one backend gives a correct answer (LASTSAVE, CONFIG GET, help texts). */
  | 'keyless'
  /** Pub/sub: (un)subscriptions through the worker's subscription connections, PUBLISH to the channel's datastore(s). */
  | 'pubsub'
  /** The whole keyspace, backend by backend and node by node of the rack (SCAN, DBSIZE, KEYS, RANDOMKEY, FLUSHALL, FLUSHDB). */
  | 'keyspace'
  /** Cannot work through a sharding proxy; `refusal` says why. */
  | 'refused';

/**
 * One option of an 'options' key layout. `args` values follow the option name. At most one of:
 * `key` (the single value is a key: SORT ... STORE dst), `streams` (the rest of the arguments are
 * n keys then n ids: XREAD), `refusal` (the call is refused when the option is present: XREAD BLOCK).
 */
export interface OptionRule {
  readonly name: string; // lowercase ASCII
  readonly args: number;
  readonly key?: boolean;
  readonly streams?: boolean;
  readonly refusal?: string;
}

/**
 * Where the keys are. Indexes count the command name as argument 0, as Redis does.
 * A subcommand's indexes count from its container's name: OBJECT ENCODING key has its key at 2.
 */
export type KeySpec =
  /** No key arguments. */
  | { readonly kind: 'none' }
  /** Redis' legacy first/last/step: a negative last counts from the end (-1 last argument, -2 the one before). */
  | { readonly kind: 'range'; readonly first: number; readonly last: number; readonly step: number }
  /**
   * A count argument then that many keys: EVAL script numkeys k..., ZUNIONSTORE dst numkeys k... (extra [1] for dst).
   * `minKeys` is 0 where Redis accepts numkeys 0 (EVAL, FCALL) and 1 elsewhere; `trailing` is how many arguments
   * must follow the keys (LMPOP's LEFT|RIGHT). `errors` picks which of Redis' wordings a malformed count gets.
   */
  | {
      readonly kind: 'numkeys';
      readonly numkeysIndex: number;
      readonly firstKey: number;
      readonly minKeys: number;
      readonly trailing: number;
      readonly extra?: readonly number[];
      readonly errors: 'eval' | 'fcall' | 'zset' | 'intercard' | 'mpop';
    }
  /**
   * Keys at fixed positions, then options parsed from `start` by their grammar (SORT, GEORADIUS, COPY, XREAD).
   * `strict`: an unknown word is a syntax error (XREAD) instead of a value to step over (SORT's ASC, ALPHA ...).
   * A rule may appear several times; every occurrence's key is reported (stricter than Redis, which keeps the last).
   */
  | {
      readonly kind: 'options';
      readonly fixed: readonly number[];
      readonly start: number;
      readonly options: readonly OptionRule[];
      readonly strict: boolean;
    };

export interface CommandSpec {
  /** Dense, from 1; 0 is never a command (parsers may use it for "unknown"). */
  readonly id: number;
  /** Lowercase; a subcommand is 'container|sub', as Redis 7 names it ('script|load'). */
  readonly name: string;
  /** Redis convention: positive = exact argc including the name (and subcommand), negative = at least -arity. */
  readonly arity: number;
  readonly flags: number;
  /** Redis' COMMAND DOCS group: 'string', 'list', 'sorted-set', 'generic', 'server' ... */
  readonly group: string;
  readonly keys: KeySpec;
  readonly route: Route;
  /** For 'refused': shown to the client as "-ERR <refusal>". */
  readonly refusal: string | undefined;
  /** How the proxy treats it, in a sentence, for docs/commands.md (proxy-answered and special cases). */
  readonly note: string | undefined;
  /** Redis version that introduced the command or its current arity, when newer than 7.0. */
  readonly since: string | undefined;
  /** Container commands (CLIENT, SCRIPT, OBJECT ...): the subcommand specs. */
  readonly subcommands: readonly CommandSpec[] | undefined;
  /** The container of a subcommand. */
  readonly parent: CommandSpec | undefined;
}
