// Peer links: what makes a BackendServer talk to another dynoproxy (or Dynomite) node — dnode framing around RESP (or, in a memcached
// pool, memcached text) requests and replies.
// Never trusts a peer's stream: a frame that is not a response, or answers the wrong message id, closes that link.
import {
  DnodeParser, DnodeHeaderTemplate, DEFAULT_DNODE_LIMITS, DMSG_RES, DMSG_REQ, DMSG_REQ_FORWARD, DNODE_DATA_PLAIN, DNODE_VERSION, isPeerAuthType, PeerAuthClient,
} from '../protocol/dnode/index.ts';
import { BackendServer, type ReplyScanner, type BackendHooks, type BackendSettings } from './backend.ts';
import type { OutBuffer } from './out-buffer.ts';
import type { ViewNode } from '../topology/index.ts';
import { peerError, RespReplyScanner } from '../protocol/resp/index.ts';
import {
  MemcacheReplyScanner, DEFAULT_REPLY_LIMITS, isErrorReply as isMemcacheError, peerError as memcachePeerError,
} from '../protocol/memcache/index.ts';
import { monotonicMs } from './clock.ts';
import type { PeerLinkClosed } from '../messages.ts';

/** Reads the RES frames a peer sends back; the reply handed on is the payload inside (RESP, or memcached text in a memcached pool). */
export class DnodeReplyScanner implements ReplyScanner {
  private readonly parser: DnodeParser;
  private readonly payloadScanner: { reset(): void; scan(buf: Uint8Array, pos: number, end: number): number };
  /** The payload is memcached text: an error is an ERROR / CLIENT_ERROR / SERVER_ERROR line, not a RESP '-'. */
  private readonly memcache: boolean;
  needed = 0;
  isError = false;
  readonly framed = true;
  replyStart = 0;
  replyEnd = 0;
  msgId = 0;
  type = 0;
  handshaking = false;

  constructor(maxPayload: number, memcache = false) {
    this.parser = new DnodeParser({ ...DEFAULT_DNODE_LIMITS, maxPayloadBytes: maxPayload });
    this.memcache = memcache;
    // Told no request kind, the memcached scanner frames VALUE..END, VA + data and one-line replies by their first line.
    this.payloadScanner = memcache ? new MemcacheReplyScanner({ ...DEFAULT_REPLY_LIMITS, maxValueBytes: maxPayload }) : new RespReplyScanner();
  }

  scan(buf: Uint8Array, pos: number, end: number): number {
    const p = this.parser;
    const r = p.parse(buf, pos, end);
    if (r > 0) {
      if (p.type !== DMSG_RES ? !this.handshaking || !isPeerAuthType(p.type) : !this.oneReply(buf, p.payloadStart, p.payloadStart + p.payloadLen)) return -1;
      this.type = p.type;
      this.replyStart = p.payloadStart;
      this.replyEnd = p.payloadStart + p.payloadLen;
      this.isError = this.memcache ? isMemcacheError(buf, this.replyStart, this.replyEnd) : buf[p.payloadStart] === 0x2d;
      this.msgId = p.msgId;
      return r;
    }
    this.needed = p.needed;
    return r;
  }

  /** A RES payload is handed to a client as is: it must be exactly one reply of the pool's protocol (not the other's bytes, not two replies). */
  private oneReply(buf: Uint8Array, start: number, end: number): boolean {
    const rs = this.payloadScanner;
    rs.reset();
    return end > start && rs.scan(buf, start, end) === end;
  }

  reset(): void {
    this.parser.reset();
  }
}

/** A dynoproxy extension of the dnode flags (bit 0 is Dynomite's encryption flag): the payload's client speaks RESP3. */
export const DNODE_FLAG_RESP3 = 2;

function requestTemplates(flags: number): DnodeHeaderTemplate[][] {
  return [
    [new DnodeHeaderTemplate(DMSG_REQ, flags, DNODE_VERSION, 0, DNODE_DATA_PLAIN), new DnodeHeaderTemplate(DMSG_REQ, flags, DNODE_VERSION, 1, DNODE_DATA_PLAIN)],
    [
      new DnodeHeaderTemplate(DMSG_REQ_FORWARD, flags, DNODE_VERSION, 0, DNODE_DATA_PLAIN),
      new DnodeHeaderTemplate(DMSG_REQ_FORWARD, flags, DNODE_VERSION, 1, DNODE_DATA_PLAIN),
    ],
  ];
}
const templates = [requestTemplates(0), requestTemplates(DNODE_FLAG_RESP3)];
const RES_TEMPLATE = new DnodeHeaderTemplate(DMSG_RES, 0, DNODE_VERSION, 1, DNODE_DATA_PLAIN);

/** Write a request header (REQ, or REQ_FORWARD for a write handed to another datacenter) before its payload. */
export function writeRequestHeader(out: OutBuffer, msgId: number, forward: boolean, sameDc: boolean, payloadLen: number, resp3 = false): void {
  const t = templates[resp3 ? 1 : 0][forward ? 1 : 0][sameDc ? 1 : 0];
  const b = out.reserve(t.length(msgId, payloadLen));
  out.len = t.write(b, out.len, msgId, payloadLen);
}

/** Write a response header answering `msgId`. */
export function writeResponseHeader(out: OutBuffer, msgId: number, payloadLen: number): void {
  const b = out.reserve(RES_TEMPLATE.length(msgId, payloadLen));
  out.len = RES_TEMPLATE.write(b, out.len, msgId, payloadLen);
}

const PEER_MAX_BACKOFF_MS = 500;
/** A link that keeps failing for the same cause is logged once per this period, with how often it failed meanwhile. */
const CLOSE_LOG_PERIOD_MS = 10_000;

const CLOSED_BY_PEER = 'Connection closed by the datastore';
const DYNOMITE_HINT = "a Dynomite node closes the whole peer link when its request parser rejects a frame; dynoproxy refuses such requests before sending (dynomite_refused_total), so check that this node's seeds say peer_compat=dynomite for every Dynomite node";
const UNMARKED_HINT = 'if this peer runs Dynomite, mark its seed peer_compat=dynomite: Dynomite closes the link on any request its parser rejects';

/** Where a closed link's record goes: the supervisor's log, posted by the worker that owns the link. */
export type PeerLinkReport = (link: PeerLinkClosed) => void;

function closeReporter(node: ViewNode, pool: string, report: PeerLinkReport): NonNullable<BackendHooks['onConnectionFailed']> {
  let lastCause = '';
  let lastAt = -Infinity;
  let repeats = 0;
  return (_server, reason, inFlight, connected) => {
    const cause = reason === CLOSED_BY_PEER ? 'Connection closed by the peer' : reason;
    const now = monotonicMs();
    if (cause === lastCause && now - lastAt < CLOSE_LOG_PERIOD_MS) {
      repeats++;
      return;
    }
    const byPeer = reason === CLOSED_BY_PEER && connected;
    const hint = !byPeer ? null : node.compat === 'dynomite' ? DYNOMITE_HINT : inFlight > 0 ? UNMARKED_HINT : null;
    report({ pool, peer: node.name, compat: node.compat, cause, hint, inFlight, connected, repeats });
    lastCause = cause;
    lastAt = now;
    repeats = 0;
  };
}

/**
 * A link to another node: a BackendServer speaking dnode (a peer is just another pool). A Dynomite node gets no
 * authentication exchange (it has none, and would close the link on our frame types); every close is reported.
 * `memcache`: the pool is memcached (data_store 1), so payloads and error replies are memcached text.
 */
export function newPeerLink(
  node: ViewNode, sameDc: boolean, settings: BackendSettings, maxPayload: number, st: Float64Array, secret: () => string | null,
  pool = '', report: PeerLinkReport | null = null, memcache = false,
): BackendServer {
  const hooks: BackendHooks = {
    newScanner: () => new DnodeReplyScanner(maxPayload, memcache),
    newAuth: () => {
      const s = node.compat === 'dynomite' ? null : secret();
      return s === null ? null : new PeerAuthClient(s);
    },
    onConnectionFailed: report === null ? undefined : closeReporter(node, pool, report),
    handshake: null,
    errorReply: (reason) => (memcache ? memcachePeerError : peerError)(reason || 'Peer Node is not connected'),
    onServerStateChange: () => {},
    writeHeader: (out, msgId, req, len) => writeRequestHeader(out, msgId, req.forwardDc, sameDc, len, req.resp3),
  };
  // Peers are never ejected from a ring: a dead owner fails its keys (Dynomite semantics), it does not move them.
  // A restarted peer must get replica writes again within moments: its reconnect backoff stays short.
  const s = { ...settings, autoEjectHosts: false, serverRetryTimeout: Math.min(settings.serverRetryTimeout, PEER_MAX_BACKOFF_MS) };
  return new BackendServer(node.index, node.host, node.peerPort, node.name, 1, s, hooks, st);
}
