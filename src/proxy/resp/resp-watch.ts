// WATCH through the proxy: the watching client gets a backend connection of its own (BackendServer.pin) to the datastore that owns
// its watched keys — on a cluster node, this node's datastore or a dedicated link to the owning peer — and every request of that client
// for that datastore goes on it until EXEC, DISCARD, UNWATCH, RESET or the client leaves. Never watches on a shared connection
// (another client's EXEC would clear the watch) and never returns a connection to reuse with a watch or a MULTI left on it.
import { keyIndexes, type CommandSpec } from '../../commands/index.ts';
import { acquireRequest, completeLocally, DROP_ALL, K_CLIENT, type Request, K_INTERNAL_DISCARD, MAX_PINNED, monotonicMs, type BackendServer, type BackendConnection } from '../../io/index.ts';
import { P } from '../../stats/index.ts';
import { scratch, ensureScratch, encReset, encHeader, encBulk } from '../routing/scratch.ts';
import * as R from './resp-replies.ts';
import type { RespSession } from './resp-session.ts';

const UNWATCH = Buffer.from('*1\r\n$7\r\nUNWATCH\r\n');
export const WATCH_IN_MULTI = R.errReply('ERR WATCH inside MULTI is not allowed');
export const WATCH_SPREAD = R.errReply(
  'ERR dynoproxy: WATCH keys must map to one datastore, the one of the keys already watched; put them under one hash tag, e.g. {user1}a and {user1}b',
);
export const WATCH_DYNOMITE = R.errReply('ERR dynoproxy: WATCH is not supported for keys owned by a Dynomite node');
export const WATCH_TOO_MANY = R.errReply(`ERR dynoproxy: too many WATCH connections to this datastore (${MAX_PINNED} per worker); try again later`);
const WATCH_PEER_DOWN = R.errReply('ERR Peer: Peer Node is not connected');

/**
 * The datastore that owns keys scratch.keyIdx[0..n) of the parsed request: a server of this node's pool, or the link to the peer
 * that owns them in this rack (cluster). A reply instead when they do not share one, or it cannot be reached.
 */
function watchTarget(c: RespSession, n: number): BackendServer | Uint8Array {
  const p = c.parser;
  const k = scratch.keyIdx;
  const cl = c.pool.cluster;
  let target: BackendServer | null = null;
  if (cl === null) {
    for (let i = 0; i < n; i++) {
      const s = c.pool.router.serverFor(p.argBuf, p.argOff[k[i]], p.argOff[k[i]] + p.argLen[k[i]]);
      if (s === null) return c.pool.noBackendReply();
      if (target !== null && s !== target) return WATCH_SPREAD;
      target = s;
    }
    return target as BackendServer;
  }
  const view = cl.current();
  const rack = view.localRacks[0];
  let owner = -1;
  for (let i = 0; i < n; i++) {
    const ks = p.argOff[k[i]];
    const ke = ks + p.argLen[k[i]];
    const o = view.ownerInRack(rack, cl.keyHash(p.argBuf, ks, ke));
    if (owner >= 0 && o !== owner) return WATCH_SPREAD;
    owner = o;
    if (view.dynomiteNode[o] === 1) return WATCH_DYNOMITE;
    const s = cl.upstream(o, p.argBuf, ks, ke);
    if (s === null) return cl.links[o] === null ? c.pool.noBackendReply() : WATCH_PEER_DOWN;
    if (target !== null && s !== target) return WATCH_SPREAD;
    target = s;
  }
  return target as BackendServer;
}

/** The datastore the client watches keys of, or null (no WATCH, or the watch ended and its connection only drains). */
export function watchedServer(c: { pin: BackendConnection | null; pinReleasing: boolean }): BackendServer | null {
  return c.pin !== null && !c.pinReleasing ? c.pin.server.base : null;
}

/** WATCH key [key ...]: pin (once) a connection to the keys' datastore and send the WATCH on it, after the client's earlier requests. */
export function watch(c: RespSession, spec: CommandSpec, buf: Buffer, start: number, end: number): void {
  if (c.tx !== null) return c.replyLocal(WATCH_IN_MULTI);
  const p = c.parser;
  ensureScratch(p.argc, c.pool.servers.length);
  const n = keyIndexes(spec, p.argBuf, p.argOff, p.argLen, p.argc, scratch.keyIdx);
  if (n <= 0) return c.replyLocal(R.keyErrorReply(n, spec, p.argBuf, p.argOff, p.argLen, p.argc));
  const target = watchTarget(c, n);
  if (target instanceof Uint8Array) return c.replyLocal(target);
  const server = target;
  const watched = watchedServer(c);
  if (watched !== null && watched !== server) return c.replyLocal(WATCH_SPREAD);
  // An ended watch on another datastore, still draining: its connection goes now (this client's order only matters per datastore).
  if (c.pin !== null && c.pin.server.base !== server) c.unpinConnection(true);
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  c.enqueue(req);
  if (c.pin !== null) c.pinReleasing = false;
  else {
    // A RESP3 client's watch lives on a RESP3 connection (the server's twin), so its replies stay RESP3.
    const pin = (c.resp3 ? server.resp3Server() : server).pin();
    if (pin === null) return completeLocally(req, server.pinnedCount >= MAX_PINNED ? WATCH_TOO_MANY : server.hooks.errorReply(server.lastError));
    c.pinConnection(pin, req);
    req.pin = pin;
    c.pool.st[P.watch_pins_total]++;
  }
  if (!p.inline) return server.send(req, buf, start, end);
  // An inline WATCH (telnet, redis-cli's raw mode) goes as RESP: backends get RESP only.
  encReset();
  encHeader(0x2a, p.argc);
  for (let i = 0; i < p.argc; i++) encBulk(p.argBuf, p.argOff[i], p.argLen[i]);
  server.send(req, scratch.enc, 0, scratch.encLen);
}

/** UNWATCH: sent on the pinned connection, which is then let go; without a watch there is nothing to unwatch. */
export function unwatch(c: RespSession): void {
  const server = watchedServer(c);
  if (server === null) return c.replyLocal(R.OK);
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  c.enqueue(req);
  server.send(req, UNWATCH, 0, UNWATCH.length);
  c.unpinConnection();
}

/**
 * The client's watch ends (EXEC sent: `cleared`, as EXEC unwatches; DISCARD, RESET, EXECABORT, the client gone: an UNWATCH first).
 * The connection is let go once this client's requests on it are answered (at once when the client left), and reused clean.
 */
export function releasePin(c: PinHolder, cleared: boolean): void {
  const pin = c.pin;
  if (pin === null) return;
  if (!cleared && !c.pinReleasing && !pin.closed) {
    let req: Request;
    if (c.closed) {
      req = acquireRequest(K_INTERNAL_DISCARD);
      req.pin = pin;
    } else {
      // In the client's queue, its reply unseen: the pin goes back once it is answered, with the client's other requests on it.
      req = acquireRequest(K_CLIENT);
      req.dropMode = DROP_ALL;
      c.enqueue(req);
    }
    pin.server.send(req, UNWATCH, 0, UNWATCH.length);
  }
  c.unpinConnection();
}

/** What releasePin needs of a client connection (RESP clients and the peer server's connections). */
export interface PinHolder {
  readonly closed: boolean;
  pin: BackendConnection | null;
  pinReleasing: boolean;
  enqueue(req: Request): void;
  unpinConnection(now?: boolean): void;
}
