// ProtocolAdapter: what connections, counters and cluster routing need to know of a client protocol — its request parser, which
// replies are errors, and the words the proxy answers with (datastore down, peer down, no quorum, bad input). Holds no state itself.
// A protocol's split face (key positions, piece encoding, merges) is its SplitRequest (routing/split.ts): RespSplit, MemcacheGetSplit.
import { ERR_NO_QUORUM, RespRequestParser, type RespLimits } from '../protocol/resp/index.ts';
import * as M from '../protocol/memcache/index.ts';
import { errReply, protocolErrorReply, storageErrorReply, NO_BACKEND } from './resp/resp-replies.ts';
import type { ClusterWords } from './routing/cluster-walk.ts';

/** parse() results shared by every protocol's parser. */
export const PARSE_INCOMPLETE = 0;
export const PARSE_ERROR = -1;

/** What a protocol's request parser offers the connection (RESP, memcached and dnode parsers share the contract). */
export interface FrameParser {
  /** The end of the next complete frame in buf[pos, end), PARSE_INCOMPLETE or PARSE_ERROR; its fields stay on the parser. */
  parse(buf: Uint8Array, pos: number, end: number): number;
  frameStart: number;
  needed: number;
  errorMessage: string;
  reset(): void;
}

/** The request limits a pool gives its parsers. */
export interface ParserLimits {
  readonly respLimits: RespLimits;
  readonly memcacheLimits: M.MemcacheLimits;
}

export interface ProtocolAdapter<P extends FrameParser = FrameParser> {
  readonly name: 'resp' | 'memcache';
  /** A client connection's request parser (incremental, zero-copy: frames are offsets into the read buffer). */
  newParser(limits: ParserLimits): P;
  /** Whether a reply (or a reply the proxy made) is an error: counted in request_errors_total and per command family. */
  isError(buf: Uint8Array, start: number, end: number): boolean;
  /** The client's reply when its datastore fails (reason: strerror text or errno code). */
  storageError(reason: string): Uint8Array;
  /** The client's reply to input that cannot be parsed, before the connection closes (empty: close without a word). */
  protocolError(message: string): Uint8Array;
  /** The reply to a request whose serving threw (code: the incident code in the log); the connection closes after it. */
  internalError(code: string): Uint8Array;
  /** The answers cluster routing makes itself: the owner's node is down, no quorum. */
  readonly words: ClusterWords;
}

const EMPTY = new Uint8Array(0);

export const RESP_ADAPTER: ProtocolAdapter<RespRequestParser> = {
  name: 'resp',
  newParser: (limits) => new RespRequestParser(limits.respLimits),
  isError: (buf, start) => buf[start] === 0x2d,
  storageError: storageErrorReply,
  protocolError: protocolErrorReply,
  internalError: (code) => errReply(`ERR dynoproxy internal error ${code} while serving this request; this connection is closed (the proxy log has the details)`),
  words: {
    peerDown: errReply('ERR Peer: Peer Node is not connected'),
    noBackend: NO_BACKEND,
    noQuorum: ERR_NO_QUORUM,
    noBackendBecause: (reason) => storageErrorReply(`no datastore is available (all ejected): ${reason}`),
  },
};

export const MEMCACHE_ADAPTER: ProtocolAdapter<M.MemcacheRequestParser> = {
  name: 'memcache',
  newParser: (limits) => new M.MemcacheRequestParser(limits.memcacheLimits),
  isError: M.isErrorReply,
  storageError: (reason) => M.storageError(reason || 'ECONNREFUSED'),
  // memcached closes such connections (binary magic, endless line) without a word.
  protocolError: () => EMPTY,
  internalError: (code) => M.serverError(`dynoproxy internal error ${code}; this connection is closed (the proxy log has the details)`),
  words: {
    peerDown: M.SERVER_ERROR_PEER_NOT_CONNECTED,
    noBackend: M.serverError('Storage: no datastore is available (all ejected)'),
    noQuorum: M.SERVER_ERROR_NO_QUORUM,
    noBackendBecause: (reason) => M.serverError(`Storage: no datastore is available (all ejected): ${reason}`),
  },
};

export function adapterFor(dataStore: number): ProtocolAdapter {
  return dataStore === 1 ? MEMCACHE_ADAPTER : RESP_ADAPTER;
}
