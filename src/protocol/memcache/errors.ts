// Every client-facing memcached reply the proxy writes itself, and every error line the request parser reports.
// Wording is memcached 1.6's or Dynomite's where one exists; nothing here does I/O, and no reply holds a raw CR or LF.
import { strerror } from '../resp/errors.ts';

function line(text: string): Buffer {
  return Buffer.from(text + '\r\n', 'latin1');
}

// ---- Error lines the request parser reports in errorMessage (memcached 1.6.18's exact text) ----
export const MSG_ERROR = 'ERROR';
export const MSG_BAD_FORMAT = 'CLIENT_ERROR bad command line format';
export const MSG_BAD_DELETE = 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]';
export const MSG_BAD_DATA_CHUNK = 'CLIENT_ERROR bad data chunk';
export const MSG_BAD_EXPTIME = 'CLIENT_ERROR invalid exptime argument';
export const MSG_BAD_DELTA = 'CLIENT_ERROR invalid numeric delta argument';
export const MSG_TOO_LARGE = 'SERVER_ERROR object too large for cache';
/** memcached's answer when a multiget outgrows its response objects; ours past `maxKeys`. */
export const MSG_TOO_MANY_KEYS = 'SERVER_ERROR out of memory writing get response';
export const MSG_MG_FLAGS_TOO_LONG = 'CLIENT_ERROR options flags are too long';
export const MSG_FLAGS_TOO_LONG = 'CLIENT_ERROR options flags too long';
export const MSG_DUPLICATE_FLAG = 'CLIENT_ERROR duplicate flag';
export const MSG_INVALID_FLAG = 'CLIENT_ERROR invalid flag';
export const MSG_BAD_TOKEN = 'CLIENT_ERROR bad token in command line format';
export const MSG_DECODING_KEY = 'CLIENT_ERROR error decoding key';
export const MSG_M_TOKEN_LENGTH = 'CLIENT_ERROR incorrect length for M token';
export const MSG_BAD_INITIAL = 'CLIENT_ERROR invalid numeric initial value';
export const MSG_BAD_DELTA_VALUE = 'CLIENT_ERROR invalid numeric delta value';
export const MSG_INVALID_OR_DUPLICATE_FLAG = 'CLIENT_ERROR invalid or duplicate flag';
export const MSG_MS_MODE = 'CLIENT_ERROR invalid mode for ms M token';
export const MSG_MA_MODE = 'CLIENT_ERROR invalid mode for ma M token';
export const MSG_OPAQUE_TOO_LONG = 'CLIENT_ERROR opaque token too long';

// ---- Why the parser closed a connection (memcached closes silently; these are for logs only) ----
export const CLOSE_BINARY = 'binary protocol request on a text connection';
export const CLOSE_LINE_TOO_LONG = 'command line too long';
export const CLOSE_HTTP = 'HTTP request on a memcached connection';

// ---- Constant replies ----
export const REPLY_ERROR = line('ERROR');
export const REPLY_END = line('END');
export const REPLY_STORED = line('STORED');
export const REPLY_NOT_STORED = line('NOT_STORED');
export const REPLY_EXISTS = line('EXISTS');
export const REPLY_NOT_FOUND = line('NOT_FOUND');
export const REPLY_DELETED = line('DELETED');
export const REPLY_TOUCHED = line('TOUCHED');
export const REPLY_OK = line('OK');
export const REPLY_RESET = line('RESET');
export const REPLY_MN = line('MN');
export const REPLY_HD = line('HD');
export const REPLY_EN = line('EN');
export const REPLY_NF = line('NF');
export const REPLY_NS = line('NS');
export const REPLY_EX = line('EX');

// ---- Dynomite's errors for a memcached pool: "SERVER_ERROR <source>: <reason>" ----
export const SERVER_ERROR_STORAGE_CONNECTION_REFUSED = line('SERVER_ERROR Storage: Connection refused');
export const SERVER_ERROR_STORAGE_CONNECTION_TIMED_OUT = line('SERVER_ERROR Storage: Connection timed out');
export const SERVER_ERROR_STORAGE_CONNECTION_RESET = line('SERVER_ERROR Storage: Connection reset by peer');
export const SERVER_ERROR_PEER_HOST_DOWN = line('SERVER_ERROR Peer: Peer Node is down');
export const SERVER_ERROR_PEER_NOT_CONNECTED = line('SERVER_ERROR Peer: Peer Node is not connected');
export const SERVER_ERROR_PEER_CONNECTION_REFUSED = line('SERVER_ERROR Peer: Connection refused');
export const SERVER_ERROR_PEER_CONNECTION_TIMED_OUT = line('SERVER_ERROR Peer: Connection timed out');
export const SERVER_ERROR_NO_QUORUM = line('SERVER_ERROR Dynomite: Failed to achieve Quorum');
/** Dynomite's dn_strerror(DYNOMITE_INVALID_STATE): the node's state (STANDBY, WRITES_ONLY ...) refuses the request. */
export const SERVER_ERROR_INVALID_STATE = line("SERVER_ERROR Dynomite: Dynomite's current state does not allow this request");
/** No datastore server of this node can take the request (all ejected). */
export const SERVER_ERROR_NO_DATASTORE = line('SERVER_ERROR Storage: no datastore is available (all ejected)');
/** A peer sent a payload that is not exactly one memcached request. */
export const CLIENT_ERROR_PEER_MALFORMED = line('CLIENT_ERROR Peer: malformed request payload');

/** A command the peer port does not serve (only keyed datastore commands pass). */
export function peerRefusal(command: string): Buffer {
  return clientError(`Peer: ${command} is not served on the peer port (only keyed datastore commands)`);
}

function sanitize(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

/** "CLIENT_ERROR <reason>\r\n". */
export function clientError(reason: string): Buffer {
  return line('CLIENT_ERROR ' + sanitize(reason));
}

/** "SERVER_ERROR <reason>\r\n". */
export function serverError(reason: string): Buffer {
  return line('SERVER_ERROR ' + sanitize(reason));
}

/** Dynomite's storage error, e.g. storageError('ECONNREFUSED') -> "SERVER_ERROR Storage: Connection refused". */
export function storageError(codeOrReason: string): Buffer {
  return serverError('Storage: ' + strerror(codeOrReason));
}

/** Dynomite's peer error, e.g. peerError('ETIMEDOUT') -> "SERVER_ERROR Peer: Connection timed out". */
export function peerError(codeOrReason: string): Buffer {
  return serverError('Peer: ' + strerror(codeOrReason));
}

/** A request the proxy refuses or cannot serve: "SERVER_ERROR dynoproxy: <reason>". */
export function proxyError(reason: string): Buffer {
  return serverError('dynoproxy: ' + reason);
}

/** "VERSION <version>\r\n", for a proxy that answers `version` itself. */
export function versionReply(version: string): Buffer {
  return line('VERSION ' + sanitize(version));
}

const PARSER_REPLIES = new Map<string, Buffer>();
for (const msg of [
  MSG_ERROR, MSG_BAD_FORMAT, MSG_BAD_DELETE, MSG_BAD_DATA_CHUNK, MSG_BAD_EXPTIME, MSG_BAD_DELTA, MSG_TOO_LARGE,
  MSG_TOO_MANY_KEYS, MSG_MG_FLAGS_TOO_LONG, MSG_FLAGS_TOO_LONG, MSG_DUPLICATE_FLAG, MSG_INVALID_FLAG, MSG_BAD_TOKEN,
  MSG_DECODING_KEY, MSG_M_TOKEN_LENGTH, MSG_BAD_INITIAL, MSG_BAD_DELTA_VALUE, MSG_INVALID_OR_DUPLICATE_FLAG,
  MSG_MS_MODE, MSG_MA_MODE, MSG_OPAQUE_TOO_LONG,
]) {
  PARSER_REPLIES.set(msg, line(msg));
}

/**
 * The reply line for a MemcacheRequestParser.errorMessage after a CMD_INVALID frame: prebuilt (no allocation)
 * for every message the parser reports. Write nothing when the parser's `noreply` is set: memcached stays silent.
 */
export function requestErrorReply(errorMessage: string): Buffer {
  return PARSER_REPLIES.get(errorMessage) ?? line(sanitize(errorMessage));
}
