// Which arguments of an ioredis-style call are keys, by the server's own command table (src/commands), so every keyed command routes right.
// Never sends anything; allocates per call (an encoded argv), which is why get/set/mget/mset/del take the direct path instead.
import { ALL_COMMANDS, blockTimeoutMs, keyIndexes, KEYS_MALFORMED, refusalFor, resolveCommand, isWrite, type CommandSpec } from '../commands/index.ts';
import { DynoError } from './dyno-error.ts';

export type Arg = string | Buffer;

/** ioredis' argument flattening: arrays (nested) spread, Maps and plain objects become field/value pairs, everything else String(). */
export function flattenArgs(args: readonly unknown[], out: Arg[] = []): Arg[] {
  for (const a of args) {
    if (Buffer.isBuffer(a) || typeof a === 'string') out.push(a);
    else if (Array.isArray(a)) flattenArgs(a, out);
    else if (a instanceof Map) for (const [k, v] of a) flattenArgs([k, v], out);
    else if (a !== null && typeof a === 'object' && !(a instanceof Uint8Array)) for (const [k, v] of Object.entries(a)) flattenArgs([k, v], out);
    else if (a instanceof Uint8Array) out.push(Buffer.from(a));
    else if (a !== undefined && a !== null) out.push(String(a));
  }
  return out;
}

export interface KeyedCall {
  readonly spec: CommandSpec;
  /** Indexes into the flattened arguments (the command name not counted) of each key. */
  readonly keys: readonly number[];
  readonly isWrite: boolean;
}

/** Connection-scoped commands the proxy answers, which mean nothing (or the wrong thing) over a pool of connections. */
const CONNECTION_STATE = new Set(['auth', 'hello', 'reset', 'quit', 'select', 'multi', 'exec', 'discard', 'watch', 'unwatch',
  'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'client|setname', 'client|setinfo', 'client|no-evict', 'client|no-touch', 'readonly', 'readwrite']);

/** The command's spec and key positions; DynoError UNSUPPORTED_COMMAND / BAD_ARGUMENTS when the client cannot route it. */
export function locateKeys(name: string, flat: readonly Arg[]): KeyedCall {
  const argv = [Buffer.from(name), ...flat.map((a) => (typeof a === 'string' ? Buffer.from(a) : a))];
  const buf = Buffer.concat(argv);
  const argOff = new Int32Array(argv.length);
  const argLen = new Int32Array(argv.length);
  let off = 0;
  argv.forEach((a, i) => {
    argOff[i] = off;
    argLen[i] = a.length;
    off += a.length;
  });
  const spec = resolveCommand(buf, argOff, argLen, argv.length);
  if (spec === undefined) throw new DynoError('UNSUPPORTED_COMMAND', `unknown command '${name}'`);
  if (spec.route === 'refused') throw new DynoError('UNSUPPORTED_COMMAND', `'${spec.name}': ${spec.refusal ?? 'refused by dynoproxy'}`);
  if (CONNECTION_STATE.has(spec.name)) throw new DynoError('UNSUPPORTED_COMMAND', `'${spec.name}' changes a connection's state, which a pooled client cannot keep`);
  // A blocking call holds its connection's reply order until it answers: a pooled, pipelined client cannot afford that.
  if (blockTimeoutMs(spec, buf, argOff, argLen, argv.length) >= 0) throw new DynoError('UNSUPPORTED_COMMAND', `'${spec.name}' blocks; run it on a connection of its own (e.g. ioredis to a node)`);
  const out = new Int32Array(argv.length + 8);
  const n = keyIndexes(spec, buf, argOff, argLen, argv.length, out);
  if (n === KEYS_MALFORMED) throw new DynoError('BAD_ARGUMENTS', `'${spec.name}': the key arguments are malformed`);
  if (n < 0) throw new DynoError('UNSUPPORTED_COMMAND', `'${spec.name}': ${refusalFor(spec, buf, argOff, argLen, argv.length) ?? 'this form is not supported'}`);
  const keys: number[] = [];
  for (let i = 0; i < n; i++) keys.push(out[i] - 1);
  return { spec, keys, isWrite: isWrite(spec) };
}

/** Top-level command names that become DynoClient methods (lowercase, identifier-safe). */
export function commandNames(): string[] {
  return ALL_COMMANDS.filter((c) => c.parent === undefined && /^[a-z][a-z0-9_]*$/.test(c.name)).map((c) => c.name);
}
