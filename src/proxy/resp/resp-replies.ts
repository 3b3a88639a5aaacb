// The RESP replies the proxy itself sends, taken from the one table in protocol/resp/errors.ts, plus small value builders.
// Never invents error wording here: client-facing strings live in protocol/resp/errors.ts.
import { unknownCommandError, keyErrorMessage, refusalFor, KEYS_REFUSED, type CommandSpec } from '../../commands/index.ts';
import * as E from '../../protocol/resp/errors.ts';

export const OK = E.REPLY_OK;
export const PONG = E.REPLY_PONG;
export const QUEUED = E.REPLY_QUEUED;
export const NULL_BULK = E.REPLY_NULL_BULK;
export const EMPTY_ARRAY = E.REPLY_EMPTY_ARRAY;
export const NOAUTH = E.ERR_NOAUTH;
export const WRONGPASS = E.ERR_WRONGPASS;
export const NO_PASSWORD_SET = E.ERR_AUTH_NOT_CONFIGURED;
export const EXECABORT = E.ERR_EXECABORT;
export const RESET = Buffer.from('+RESET\r\n');
export const NO_BACKEND = E.storageError('no datastore is available (all ejected)');
export const NOPROTO = E.errorReply('NOPROTO unsupported protocol version');
export const errReply = E.errorReply;
export const wrongArityReply = E.wrongArity;
export const protocolErrorReply = E.protocolError;
export const proxyError = E.proxyError;
export const dynomiteRefusedReply = E.dynomiteRefused;

export function bulkReply(s: string | Uint8Array): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const head = `$${b.length}\r\n`;
  const out = Buffer.allocUnsafe(head.length + b.length + 2);
  out.write(head, 0, 'latin1');
  out.set(b, head.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

export function intReply(n: number): Buffer {
  return Buffer.from(`:${n}\r\n`, 'latin1');
}

/** Redis' wording for an unknown command or subcommand; the text quotes client bytes one char per byte. */
export function unknownCommandReply(buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): Buffer {
  return Buffer.from(`-${unknownCommandError(buf, argOff, argLen, argc).replace(/[\r\n]/g, ' ')}\r\n`, 'latin1');
}

/** A malformed or refused key layout (numkeys out of range, XREAD BLOCK ...), in Redis' or our words. */
export function keyErrorReply(code: number, spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): Buffer {
  if (code === KEYS_REFUSED) return E.errorReply(`ERR ${refusalFor(spec, buf, argOff, argLen, argc) ?? `this form of '${spec.name}' is not supported`}`);
  return E.errorReply(keyErrorMessage(spec, buf, argOff, argLen, argc));
}

const refusals = new WeakMap<CommandSpec, Buffer>();

export function refusedReply(spec: CommandSpec): Buffer {
  let r = refusals.get(spec);
  if (r === undefined) {
    r = spec.refusal !== undefined ? E.errorReply(`ERR ${spec.refusal}`) : E.proxyError(`'${spec.name}' is not supported`);
    refusals.set(spec, r);
  }
  return r;
}

const storageErrors = new Map<string, Buffer>();

/** Dynomite's wording for a failing datastore: "-ERR Storage: <reason>" (cached: a dead backend fails many requests). */
export function storageErrorReply(reason: string): Buffer {
  let r = storageErrors.get(reason);
  if (r === undefined) {
    r = E.storageError(reason || 'ECONNREFUSED');
    if (storageErrors.size < 64) storageErrors.set(reason, r);
  }
  return r;
}

// ---- Transactions (resp-tx.ts, cluster-tx.ts, peer-tx.ts) ----
export const TX_ONE_BACKEND = E.errorReply(
  'ERR dynoproxy: every key of a MULTI transaction must map to one backend; put them under one hash tag, e.g. {user1}a and {user1}b',
);
/** A transaction whose owners include a Dynomite node: Dynomite's parser has no MULTI, and would close the peer link on it. */
export const TX_DYNOMITE = E.errorReply(
  'ERR dynoproxy: a MULTI transaction cannot run on a Dynomite peer (Dynomite has no MULTI); these keys are owned by one, nothing was sent or applied',
);
/** Under WATCH, a transaction runs where the watch is: keys of another datastore would run unwatched. */
export const TX_NOT_WATCHED = E.errorReply(
  'ERR dynoproxy: under WATCH, every key of the transaction must map to the datastore of the watched keys; put them under one hash tag',
);
export const TX_ONE_NODE = E.errorReply(
  'ERR dynoproxy: every key of a MULTI transaction must be owned by one node in each rack; put them under one hash tag, e.g. {user1}a and {user1}b',
);

function commandName(spec: CommandSpec): string {
  return spec.name.replace('|', ' ').toUpperCase();
}

export function txProxyAnswered(spec: CommandSpec): Buffer {
  return E.errorReply(`ERR dynoproxy: '${commandName(spec)}' is answered by the proxy and cannot be part of MULTI`);
}

export function txBroadcast(spec: CommandSpec): Buffer {
  return E.errorReply(`ERR dynoproxy: '${commandName(spec)}' goes to every backend and cannot be part of MULTI`);
}

export function txKeyless(spec: CommandSpec): Buffer {
  return E.errorReply(`ERR dynoproxy: '${commandName(spec)}' has no key to place it by and cannot be part of MULTI on a cluster node`);
}

export function txTooManyCommands(max: number): Buffer {
  return E.errorReply(`ERR dynoproxy: a MULTI transaction may queue at most ${max} commands (max_tx_commands); EXEC will discard it`);
}

export function txTooManyBytes(max: number): Buffer {
  return E.errorReply(`ERR dynoproxy: a MULTI transaction may queue at most ${max} bytes of commands (max_tx_bytes); EXEC will discard it`);
}

/** A peer's MULTI block refused as a whole (nothing of it reached the datastore). */
export function peerTxRefused(reason: string): Buffer {
  return E.errorReply(`ERR Peer: MULTI block refused: ${reason}`);
}
