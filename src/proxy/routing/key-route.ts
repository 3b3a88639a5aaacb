// KeyRoute: the one-key request a routing strategy sends (key, hash, bytes, reply framing), and the client face strategies answer through.
// Never holds a request past the routing call: one KeyRoute per worker, refilled per request (routing is synchronous), no allocation.
import { acquireRequest, K_CLIENT, monotonicMs, type Request } from '../../io/index.ts';

/** What routing needs of a client connection (any protocol; the peer server's too): its in-order reply queue. */
export interface ClusterClient {
  enqueue(req: Request): void;
}

const NO_KEY = new Uint8Array(0);

/**
 * The one-key request being routed: its key bytes (what the owner's datastore server is chosen by), hash, bytes to send, how
 * its reply is framed and whether the client sees it.
 */
export class KeyRoute {
  kb: Uint8Array = NO_KEY;
  ks = 0;
  ke = 0;
  hash = 0;
  bytes: Uint8Array = NO_KEY;
  start = 0;
  end = 0;
  write = false;
  /** Request fields (request.ts): reply kind for memcached backends, reply dropping (noreply / quiet), stats group. */
  replyKind = 0;
  dropMode = 0;
  group = -1;
  /** A read of exactly one key whose replicas a quorum read may repair (read_repairs_enabled); set per request by the protocol. */
  repairable = false;

  key(kb: Uint8Array, ks: number, ke: number, hash: number): this {
    this.kb = kb;
    this.ks = ks;
    this.ke = ke;
    this.hash = hash;
    return this;
  }

  payload(bytes: Uint8Array, start: number, end: number, write: boolean, replyKind: number, dropMode: number, group: number): this {
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.write = write;
    this.replyKind = replyKind;
    this.dropMode = dropMode;
    this.group = group;
    this.repairable = false;
    return this;
  }
}

export const keyRoute = new KeyRoute();

/** The client's request for a route, queued in reply order. */
export function clientRequest(c: ClusterClient, r: KeyRoute): Request {
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  req.group = r.group;
  req.replyKind = r.replyKind;
  req.dropMode = r.dropMode;
  c.enqueue(req);
  return req;
}
