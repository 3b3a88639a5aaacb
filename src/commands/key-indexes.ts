// Key extraction from a request's argument offsets, per KeySpec kind, plus the Redis wording when the key arguments are malformed.
// keyIndexes() never allocates and never converts bytes to strings; only keyErrorMessage() (an error path) builds strings.
import type { CommandSpec, KeySpec, OptionRule } from './command-spec.ts';
import { bytesEqualName } from './command-table.ts';

/** keyIndexes(): the key arguments are malformed (bad numkeys, unbalanced STREAMS, dangling MSET key ...). */
export const KEYS_MALFORMED = -1;
/** keyIndexes(): an option makes this call unsupported (XREAD BLOCK, COPY ... DB); refusalFor() gives the reason. */
export const KEYS_REFUSED = -2;

// Finer failure codes, kept internal so keyErrorMessage() can pick Redis' wording.
const UNBALANCED = -3;
const NOT_INT = -4;
const NEGATIVE = -5;
const TOO_FEW = -6;
const TOO_MANY = -7;
const INCOMPLETE = -8;

/**
 * Redis' string2ll: optional '-', no '+', no leading zeros ("0" alone is fine), digits only.
 * NaN when Redis would say "value is not an integer or out of range".
 */
export function parseInteger(buf: Uint8Array, off: number, len: number): number {
  if (len === 0 || len > 20) return NaN;
  const end = off + len;
  let i = off;
  if (buf[i] === 45) {
    i++;
    if (i === end) return NaN;
  }
  const first = buf[i];
  if (first === 48) return len === 1 ? 0 : NaN;
  if (first < 49 || first > 57) return NaN;
  const neg = buf[off] === 45;
  const digits = end - i;
  if (digits > 19) return NaN;
  // 19 digits may or may not fit a long long: compare with its limit digit by digit, as doubles cannot.
  const limit = neg ? LLONG_MIN_DIGITS : LLONG_MAX_DIGITS;
  let cmp = 0;
  let v = 0;
  for (let j = 0; i < end; i++, j++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    if (digits === 19 && cmp === 0) cmp = d - (limit.charCodeAt(j) - 48);
    v = v * 10 + d;
  }
  if (cmp > 0) return NaN;
  return neg ? -v : v;
}

const LLONG_MAX_DIGITS = '9223372036854775807';
const LLONG_MIN_DIGITS = '9223372036854775808';

function scanRange(first: number, last: number, step: number, argc: number, out: Int32Array): number {
  const end = last < 0 ? argc + last : last;
  if (end >= argc || end < first) return INCOMPLETE;
  // MSET a 1 b: a key without its value. Redis answers with its arity error.
  if (step > 1 && last < 0 && (argc - first) % step !== 0) return INCOMPLETE;
  let n = 0;
  for (let i = first; i <= end; i += step) out[n++] = i;
  return n;
}

function scanNumkeys(k: Extract<KeySpec, { kind: 'numkeys' }>, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, out: Int32Array): number {
  const v = parseInteger(buf, argOff[k.numkeysIndex], argLen[k.numkeysIndex]);
  if (v !== v) return NOT_INT;
  if (v < k.minKeys) return v < 0 ? NEGATIVE : TOO_FEW;
  if (v > argc - k.firstKey - k.trailing) return TOO_MANY;
  let n = 0;
  const extra = k.extra;
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) out[n++] = extra[i];
  for (let i = 0; i < v; i++) out[n++] = k.firstKey + i;
  return n;
}

function matchRule(rules: readonly OptionRule[], buf: Uint8Array, off: number, len: number): OptionRule | undefined {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    if (bytesEqualName(buf, off, len, rule.name)) return rule;
  }
  return undefined;
}

function needsStreams(rules: readonly OptionRule[]): boolean {
  for (let r = 0; r < rules.length; r++) if (rules[r].streams === true) return true;
  return false;
}

function scanOptions(k: Extract<KeySpec, { kind: 'options' }>, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, out: Int32Array): number {
  let n = 0;
  const fixed = k.fixed;
  for (let f = 0; f < fixed.length; f++) {
    if (fixed[f] >= argc) return KEYS_MALFORMED;
    out[n++] = fixed[f];
  }
  let i = k.start;
  while (i < argc) {
    const rule = matchRule(k.options, buf, argOff[i], argLen[i]);
    if (rule === undefined) {
      if (k.strict) return KEYS_MALFORMED;
      i++;
      continue;
    }
    if (rule.refusal !== undefined) return KEYS_REFUSED;
    if (rule.streams === true) {
      const rest = argc - i - 1;
      if (rest === 0) return KEYS_MALFORMED;
      if ((rest & 1) !== 0) return UNBALANCED;
      for (let j = 1, half = rest >> 1; j <= half; j++) out[n++] = i + j;
      return n;
    }
    if (i + rule.args >= argc) return KEYS_MALFORMED;
    if (rule.key === true) out[n++] = i + 1;
    i += 1 + rule.args;
  }
  return needsStreams(k.options) ? KEYS_MALFORMED : n;
}

function scan(spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, out: Int32Array): number {
  const k = spec.keys;
  switch (k.kind) {
    case 'none':
      return 0;
    case 'range':
      return scanRange(k.first, k.last, k.step, argc, out);
    case 'numkeys':
      return scanNumkeys(k, buf, argOff, argLen, argc, out);
    case 'options':
      return scanOptions(k, buf, argOff, argLen, argc, out);
  }
}

/**
 * Write the indexes of the key arguments into out (out.length >= argc) and return how many, in Redis'
 * COMMAND GETKEYS order; KEYS_MALFORMED (-1) when the key arguments are malformed (keyErrorMessage() words
 * it), KEYS_REFUSED (-2) when an option makes the call unsupported (refusalFor() gives the reason).
 * Assumes arityOk(spec, argc). Never allocates.
 */
export function keyIndexes(spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number, out: Int32Array): number {
  const n = scan(spec, buf, argOff, argLen, argc, out);
  return n >= KEYS_REFUSED ? n : KEYS_MALFORMED;
}

/**
 * Why this call is refused, or undefined: the spec's refusal for a 'refused' route, or the refusal of an option
 * present in the arguments (XREAD ... BLOCK). Shown to the client as "-ERR <reason>". Never allocates.
 */
export function refusalFor(spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): string | undefined {
  if (spec.route === 'refused') return spec.refusal;
  const k = spec.keys;
  if (k.kind !== 'options') return undefined;
  for (let i = k.start; i < argc; i++) {
    const rule = matchRule(k.options, buf, argOff[i], argLen[i]);
    if (rule === undefined) continue;
    if (rule.refusal !== undefined) return rule.refusal;
    if (rule.streams === true) return undefined;
    i += rule.args;
  }
  return undefined;
}

/**
 * The error Redis itself gives when keyIndexes() says KEYS_MALFORMED, as "ERR ..." without the leading '-'.
 * An error path: may allocate.
 */
export function keyErrorMessage(spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): string {
  const code = scan(spec, buf, argOff, argLen, argc, new Int32Array(Math.max(argc, 1)));
  const k = spec.keys;
  if (code === INCOMPLETE) return `ERR wrong number of arguments for '${spec.name}' command`;
  if (code === UNBALANCED) return "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
  if (k.kind !== 'numkeys') return 'ERR syntax error';
  const gtArgs = "ERR Number of keys can't be greater than number of args";
  const positive = 'ERR numkeys should be greater than 0';
  switch (k.errors) {
    case 'eval':
    case 'fcall':
      if (code === NOT_INT) return k.errors === 'eval' ? 'ERR value is not an integer or out of range' : 'ERR Bad number of keys provided';
      if (code === NEGATIVE) return "ERR Number of keys can't be negative";
      return gtArgs;
    case 'zset':
      if (code === NOT_INT) return 'ERR value is not an integer or out of range';
      if (code === NEGATIVE || code === TOO_FEW) return `ERR at least 1 input key is needed for '${spec.name}' command`;
      return 'ERR syntax error';
    case 'intercard':
      return code === TOO_MANY ? gtArgs : positive;
    case 'mpop':
      return code === TOO_MANY ? 'ERR syntax error' : positive;
  }
}

/** For split routes, how many arguments each key spans: 1 for MGET/DEL (key, key ...), 2 for MSET (key, value ...); else 0. */
export function splitStep(spec: CommandSpec): number {
  const r = spec.route;
  if (r !== 'split-concat' && r !== 'split-sum' && r !== 'split-pairs') return 0;
  return spec.keys.kind === 'range' ? spec.keys.step : 0;
}

/**
 * Redis' legacy (first, last, step) of COMMAND INFO: the keys at fixed positions when they form a range,
 * else 0, 0, 0 (keys found by numkeys or options only).
 */
export function legacyKeyRange(spec: CommandSpec): readonly [number, number, number] {
  const k = spec.keys;
  if (k.kind === 'range') return [k.first, k.last, k.step];
  const fixed = k.kind === 'numkeys' ? k.extra ?? [] : k.kind === 'options' ? k.fixed : [];
  if (fixed.length === 0) return [0, 0, 0];
  for (let i = 1; i < fixed.length; i++) if (fixed[i] !== fixed[i - 1] + 1) return [0, 0, 0];
  return [fixed[0], fixed[fixed.length - 1], 1];
}
