// Every client-facing RESP reply the proxy itself writes: constants prebuilt once, dynamic errors built on demand.
// Wording is Redis 7's or Dynomite's where one exists; nothing here does I/O, and no reply may contain a raw CR or LF.

function line(text: string): Buffer {
  return Buffer.from(text + '\r\n', 'latin1');
}

// ---- Constant replies ----
export const REPLY_OK = line('+OK');
export const REPLY_PONG = line('+PONG');
export const REPLY_QUEUED = line('+QUEUED');
export const REPLY_NULL_BULK = line('$-1');
export const REPLY_NULL_ARRAY = line('*-1');
export const REPLY_RESP3_NULL = line('_');
export const REPLY_EMPTY_ARRAY = line('*0');
export const REPLY_EMPTY_BULK = Buffer.from('$0\r\n\r\n', 'latin1');
export const REPLY_ZERO = line(':0');
export const REPLY_ONE = line(':1');

// ---- Redis 7 errors ----
export const ERR_NOAUTH = line('-NOAUTH Authentication required.');
export const ERR_WRONGPASS = line('-WRONGPASS invalid username-password pair or user is disabled.');
export const ERR_AUTH_NOT_CONFIGURED = line(
  '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
);
export const ERR_SYNTAX = line('-ERR syntax error');
export const ERR_NOT_INTEGER = line('-ERR value is not an integer or out of range');
export const ERR_MULTI_NESTED = line('-ERR MULTI calls can not be nested');
export const ERR_EXEC_WITHOUT_MULTI = line('-ERR EXEC without MULTI');
export const ERR_DISCARD_WITHOUT_MULTI = line('-ERR DISCARD without MULTI');
export const ERR_EXECABORT = line('-EXECABORT Transaction discarded because of previous errors.');

// ---- Dynomite's errors: "-ERR <source>: <reason>", reason being strerror() for socket errors ----
export const ERR_STORAGE_CONNECTION_REFUSED = line('-ERR Storage: Connection refused');
export const ERR_STORAGE_CONNECTION_TIMED_OUT = line('-ERR Storage: Connection timed out');
export const ERR_STORAGE_CONNECTION_RESET = line('-ERR Storage: Connection reset by peer');
export const ERR_PEER_HOST_DOWN = line('-ERR Peer: Peer Node is down');
export const ERR_PEER_NOT_CONNECTED = line('-ERR Peer: Peer Node is not connected');
export const ERR_PEER_CONNECTION_REFUSED = line('-ERR Peer: Connection refused');
export const ERR_PEER_CONNECTION_TIMED_OUT = line('-ERR Peer: Connection timed out');
export const ERR_NO_QUORUM = line('-ERR Dynomite: Failed to achieve Quorum');

// strerror() wording for the errno codes Node reports on sockets, so "Storage:" / "Peer:" replies read like Dynomite's.
const STRERROR: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOTCONN: 'Transport endpoint is not connected',
};

/** The strerror() text for a Node error code such as 'ECONNREFUSED' (the code itself when unknown). */
export function strerror(code: string): string {
  return STRERROR[code] ?? code;
}

// Redis's rejectCommandFormat and addReplyErrorFormat: CR and LF inside an error become spaces.
function sanitize(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

/** `-<text>\r\n` for any error text that already starts with its code ("ERR ...", "MOVED ..."). */
export function errorReply(text: string): Buffer {
  return Buffer.from('-' + sanitize(text) + '\r\n', 'utf8');
}

/**
 * `-ERR <message>` for a RespRequestParser.errorMessage ("Protocol error: ..."). Latin-1 so a raw byte quoted in
 * "expected '$', got 'x'" goes back as the very byte the client sent, as in Redis.
 */
export function protocolError(message: string): Buffer {
  return Buffer.from('-ERR ' + sanitize(message) + '\r\n', 'latin1');
}

/** Dynomite's storage error, e.g. storageError('ECONNREFUSED') -> "-ERR Storage: Connection refused". */
export function storageError(codeOrReason: string): Buffer {
  return errorReply('ERR Storage: ' + strerror(codeOrReason));
}

/** Dynomite's peer error, e.g. peerError('ETIMEDOUT') -> "-ERR Peer: Connection timed out". */
export function peerError(codeOrReason: string): Buffer {
  return errorReply('ERR Peer: ' + strerror(codeOrReason));
}

/** A request the proxy refuses or cannot serve: "-ERR dynoproxy: <reason>". */
export function proxyError(reason: string): Buffer {
  return errorReply('ERR dynoproxy: ' + reason);
}

/** A request refused because a Dynomite peer it would reach cannot parse it; nothing was sent or applied anywhere. */
export function dynomiteRefused(commandName: string, reason: string): Buffer {
  return proxyError(`${commandName} cannot be sent to a Dynomite peer of this cluster (${reason}); nothing was sent or applied`);
}

/** Redis 7: "-ERR wrong number of arguments for 'get' command" (the command's lower-case full name). */
export function wrongArity(commandName: string): Buffer {
  return errorReply(`ERR wrong number of arguments for '${commandName.toLowerCase()}' command`);
}

// ---- Replies quoting the client's own argument bytes: built as bytes, so binary arguments come back unchanged ----

// Redis formats these with "%s", which stops at a NUL byte.
function cStringLength(buf: Uint8Array, off: number, len: number): number {
  for (let i = 0; i < len; i++) if (buf[off + i] === 0) return i;
  return len;
}

const UNKNOWN_PREFIX = Buffer.from("-ERR unknown command '", 'latin1');
const UNKNOWN_MIDDLE = Buffer.from("', with args beginning with: ", 'latin1');
// Redis prints at most 128 bytes of the name ('%.128s'), and args while fewer than 128 bytes of them are written.
const QUOTE_BUDGET = 128;

/**
 * Redis 7: "-ERR unknown command 'foo', with args beginning with: 'a' 'b' " from a parsed request (the parser's
 * argBuf/argOff/argLen/argc). Each argument is quoted and followed by a space, within Redis's 128-byte budget.
 */
export function unknownCommand(buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): Buffer {
  const parts: number[] = [];
  const nameLen = argc > 0 ? Math.min(cStringLength(buf, argOff[0], argLen[0]), QUOTE_BUDGET) : 0;
  pushBytes(parts, UNKNOWN_PREFIX, 0, UNKNOWN_PREFIX.length);
  if (argc > 0) pushBytes(parts, buf, argOff[0], argOff[0] + nameLen);
  pushBytes(parts, UNKNOWN_MIDDLE, 0, UNKNOWN_MIDDLE.length);
  let written = 0;
  for (let i = 1; i < argc && written < QUOTE_BUDGET; i++) {
    const take = Math.min(cStringLength(buf, argOff[i], argLen[i]), QUOTE_BUDGET - written);
    parts.push(39);
    pushBytes(parts, buf, argOff[i], argOff[i] + take);
    parts.push(39, 32);
    written += take + 3;
  }
  return finishErrorBytes(parts);
}

/** Redis 7: "-ERR unknown subcommand 'foo'. Try CONFIG HELP." */
export function unknownSubcommand(buf: Uint8Array, off: number, len: number, container: string): Buffer {
  const parts: number[] = [];
  const head = Buffer.from("-ERR unknown subcommand '", 'latin1');
  pushBytes(parts, head, 0, head.length);
  pushBytes(parts, buf, off, off + Math.min(cStringLength(buf, off, len), QUOTE_BUDGET));
  const tail = Buffer.from(`'. Try ${container.toUpperCase()} HELP.`, 'latin1');
  pushBytes(parts, tail, 0, tail.length);
  return finishErrorBytes(parts);
}

function pushBytes(parts: number[], src: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) parts.push(src[i]);
}

function finishErrorBytes(parts: number[]): Buffer {
  for (let i = 0; i < parts.length; i++) if (parts[i] === 13 || parts[i] === 10) parts[i] = 32;
  parts.push(13, 10);
  return Buffer.from(parts);
}
