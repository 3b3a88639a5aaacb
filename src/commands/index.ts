// Public face of the command table: Redis 7 commands as data, byte-level lookup, key extraction and Redis' error wording.
// Pure: no I/O, and the per-request functions (resolveCommand, arityOk, keyIndexes, refusalFor) never allocate.
export {
  F_WRITE, F_READONLY, F_DENYOOM, F_ADMIN, F_PUBSUB, F_NOSCRIPT, F_BLOCKING, F_LOADING, F_STALE, F_FAST, F_MOVABLEKEYS, FLAG_NAMES,
} from './command-spec.ts';
export type { CommandSpec, KeySpec, OptionRule, Route } from './command-spec.ts';
export { COMMANDS, ALL_COMMANDS, specById, findCommand, resolveCommand, arityOk, isWrite, isKeyedRoute } from './command-table.ts';
export { keyIndexes, refusalFor, keyErrorMessage, splitStep, legacyKeyRange, parseInteger, KEYS_MALFORMED, KEYS_REFUSED } from './key-indexes.ts';
export { unknownCommandError, wrongArityError } from './command-errors.ts';
export { renderCommandsDoc } from './commands-doc.ts';
export {
  DYNOMITE_CLASSES, DYNOMITE_REWRITES, DYN_FITS, DYN_REWRITE, DYN_REFUSED, DYNOMITE_DEFAULT_MAX_KEY_BYTES, DYNOMITE_MBUF_HEADER_MARGIN,
  dynomiteFit, dynomiteRewriteOf, dynomiteRefusal, dynomiteClassOf,
} from './dynomite-compat.ts';
export type { DynomiteRewrite, DynomiteClassName } from './dynomite-compat.ts';
export { blockTimeoutMs, NOT_BLOCKING } from './blocking.ts';
