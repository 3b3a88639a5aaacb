// Peer links: what makes a BackendServer talk to another dynoproxy (or Dynomite) node — dnode framing around RESP requests and replies.
// Never trusts a peer's stream: a frame that is not a response, or answers the wrong message id, closes that link.
import {
  DnodeParser, DnodeHeaderTemplate, DEFAULT_DNODE_LIMITS, DMSG_RES, DMSG_REQ, DMSG_REQ_FORWARD, DNODE_DATA_PLAIN, DNODE_VERSION,
} from '../peer/index.ts';
import { BackendServer, type ReplyScanner, type BackendHooks, type BackendSettings } from './backend.ts';
import type { OutBuffer } from './out-buffer.ts';
import type { ViewNode } from '../topology/index.ts';
import { peerError, RespReplyScanner } from '../protocol/resp/index.ts';
import { isPeerAuthType, PeerAuthClient } from '../peer/index.ts';

/** Reads the RES frames a peer sends back; the reply handed on is the RESP payload inside. */
export class DnodeReplyScanner implements ReplyScanner {
  private readonly parser: DnodeParser;
  private readonly payloadScanner = new RespReplyScanner();
  needed = 0;
  isError = false;
  readonly framed = true;
  replyStart = 0;
  replyEnd = 0;
  msgId = 0;
  type = 0;
  handshaking = false;

  constructor(maxPayload: number) {
    this.parser = new DnodeParser({ ...DEFAULT_DNODE_LIMITS, maxPayloadBytes: maxPayload });
  }

  scan(buf: Uint8Array, pos: number, end: number): number {
    const p = this.parser;
    const r = p.parse(buf, pos, end);
    if (r > 0) {
      if (p.type !== DMSG_RES ? !this.handshaking || !isPeerAuthType(p.type) : !this.oneReply(buf, p.payloadStart, p.payloadStart + p.payloadLen)) return -1;
      this.type = p.type;
      this.replyStart = p.payloadStart;
      this.replyEnd = p.payloadStart + p.payloadLen;
      this.isError = buf[p.payloadStart] === 0x2d;
      this.msgId = p.msgId;
      return r;
    }
    this.needed = p.needed;
    return r;
  }

  /** A RES payload is handed to a RESP client as is: it must be exactly one RESP reply (not memcached bytes, not two replies). */
  private oneReply(buf: Uint8Array, start: number, end: number): boolean {
    const rs = this.payloadScanner;
    rs.reset();
    return end > start && rs.scan(buf, start, end) === end;
  }

  reset(): void {
    this.parser.reset();
  }
}

const templates = [
  [new DnodeHeaderTemplate(DMSG_REQ, 0, DNODE_VERSION, 0, DNODE_DATA_PLAIN), new DnodeHeaderTemplate(DMSG_REQ, 0, DNODE_VERSION, 1, DNODE_DATA_PLAIN)],
  [
    new DnodeHeaderTemplate(DMSG_REQ_FORWARD, 0, DNODE_VERSION, 0, DNODE_DATA_PLAIN),
    new DnodeHeaderTemplate(DMSG_REQ_FORWARD, 0, DNODE_VERSION, 1, DNODE_DATA_PLAIN),
  ],
];
const RES_TEMPLATE = new DnodeHeaderTemplate(DMSG_RES, 0, DNODE_VERSION, 1, DNODE_DATA_PLAIN);

/** Write a request header (REQ, or REQ_FORWARD for a write handed to another datacenter) before its payload. */
export function writeRequestHeader(out: OutBuffer, msgId: number, forward: boolean, sameDc: boolean, payloadLen: number): void {
  const t = templates[forward ? 1 : 0][sameDc ? 1 : 0];
  const b = out.reserve(t.length(msgId, payloadLen));
  out.len = t.write(b, out.len, msgId, payloadLen);
}

/** Write a response header answering `msgId`. */
export function writeResponseHeader(out: OutBuffer, msgId: number, payloadLen: number): void {
  const b = out.reserve(RES_TEMPLATE.length(msgId, payloadLen));
  out.len = RES_TEMPLATE.write(b, out.len, msgId, payloadLen);
}

const PEER_MAX_BACKOFF_MS = 500;

/** A link to another node: a BackendServer speaking dnode (a peer is just another pool). */
export function newPeerLink(
  node: ViewNode, sameDc: boolean, settings: BackendSettings, maxPayload: number, st: Float64Array, secret: () => string | null,
): BackendServer {
  const hooks: BackendHooks = {
    newScanner: () => new DnodeReplyScanner(maxPayload),
    newAuth: () => {
      const s = secret();
      return s === null ? null : new PeerAuthClient(s);
    },
    handshake: null,
    errorReply: (reason) => peerError(reason || 'Peer Node is not connected'),
    onServerStateChange: () => {},
    writeHeader: (out, msgId, req, len) => writeRequestHeader(out, msgId, req.forwardDc, sameDc, len),
  };
  // Peers are never ejected from a ring: a dead owner fails its keys (Dynomite semantics), it does not move them.
  // A restarted peer must get replica writes again within moments: its reconnect backoff stays short.
  const s = { ...settings, autoEjectHosts: false, serverRetryTimeout: Math.min(settings.serverRetryTimeout, PEER_MAX_BACKOFF_MS) };
  return new BackendServer(node.index, node.host, node.peerPort, `${node.host}:${node.peerPort}`, 1, s, hooks, st);
}
