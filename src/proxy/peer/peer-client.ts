// PeerClient: a connection accepted on dyn_listen from another node: dnode REQ / REQ_FORWARD frames in, RES frames out (same msg id).
// Never routes a peer's request back into the cluster, except a write forwarded from another datacenter, which it fans out to its own DC's racks;
// never serves a peer that has not proved it knows peer_secret (when set; a Dynomite seed's address is exempt), and never sends the datastore a
// command that could change what the backend connection, shared with every client of this worker, does for anyone else (only keyed datastore
// commands pass the gate; MULTI only as a whole MULTI..EXEC block in one frame, peer-tx.ts).
import { adapterFor, type ProtocolAdapter } from '../protocol-adapter.ts';
import type { Socket } from 'node:net';
import { DnodeParser, DEFAULT_DNODE_LIMITS, DMSG_REQ, DMSG_REQ_FORWARD, GOSSIP_SYN, PeerAuthServer, PEER_AUTH_MAX_PAYLOAD, PEER_AUTH_REFUSAL, PEER_AUTH_TIMEOUT_MS } from '../../protocol/dnode/index.ts';
import type { CommandSpec } from '../../commands/index.ts';
import { currentNodeState, STATE_ERROR } from '../node-state.ts';
import { ST_NORMAL, ST_STANDBY, P } from '../../stats/index.ts';
import { RespRequestParser, isRangeCommand, isGossipCommand, isHelloRequest, HELLO_REPLY, isRepairCommand, memcacheRangeCommand, MC_PURGE, isPurgeCommand, wrapMemcacheResp } from '../../protocol/resp/index.ts';
import { serveGossip, answerGossipSyn } from './peer-gossip.ts';
import { isInvalidationsCommand } from '../resp/tracking-peers.ts';
import { serveRange } from './peer-range.ts';
import { serveRepair } from './peer-repair.ts';
import { serveMemcacheRange } from './peer-memcache-range.ts';
import { MemcacheRequestParser, CLIENT_ERROR_PEER_MALFORMED } from '../../protocol/memcache/index.ts';
import { serveMemcachePeer } from './peer-memcache.ts';
import { resolveCommand, arityOk, keyIndexes, isWrite, isKeyedRoute, blockTimeoutMs, F_BLOCKING } from '../../commands/index.ts';
import { blockingFull, blockingRoom } from '../resp/resp-blocking.ts';
import { ClientConnection } from '../client-connection.ts';
import { acquireRequest, completeLocally, deliverReply, afterIo, K_CLIENT, type Request, type BackendServer, writeResponseHeader, monotonicMs, DNODE_FLAG_RESP3 } from '../../io/index.ts';
import { scratch, ensureScratch } from '../routing/scratch.ts';
import { hashKeys, replicatePieces } from '../resp/resp-cluster.ts';
import { replicateToLocalRacks } from '../routing/cluster-replicate.ts';
import { servePeerTxBlock } from './peer-tx.ts';
import { errReply, OK } from '../resp/resp-replies.ts';
import { releasePin, watchedServer, WATCH_SPREAD, WATCH_TOO_MANY } from '../resp/resp-watch.ts';
import { keyspaceCommand } from '../resp/resp-keyspace.ts';
import type { PoolContext } from '../pool-context.ts';

const EMPTY = Buffer.alloc(0);
/** A warming node's answer to a peer's PING (cluster-worker.ts reads it as "up, warming": PEER_WARMING). */
const WARMING_PONG = Buffer.from('+WARMING\r\n');

function rangeArgs(q: RespRequestParser): string[] {
  const out: string[] = [];
  for (let i = 1; i < q.argc; i++) out.push(Buffer.from(q.argBuf.subarray(q.argOff[i], q.argOff[i] + q.argLen[i])).toString('latin1'));
  return out;
}
const BAD_REQUEST = errReply('ERR Peer: malformed request payload');
/** replyKind of a locally answered request whose reply is a whole dnode frame already (a GOSSIP_SYN_REPLY), sent without a RES header. */
const RAW_FRAME = 0x7f;
const WATCH_NOT_OWNED = errReply('ERR Peer: WATCH for a key this node does not own');

/**
 * What the peer port serves: commands the table routes by key (with at least one key), the broadcasts a
 * coordinator sends every node (SCRIPT LOAD / FLUSH, FUNCTION ...), and PING (failure detection). Never
 * connection state (MULTI outside a whole block, SELECT, CLIENT, HELLO, SUBSCRIBE ...), never what the table refuses (FLUSHALL,
 * CONFIG, DEBUG, KEYS, blocking forms ...), never keyless commands.
 */
function peerAllows(spec: CommandSpec, keys: number): boolean {
  if (isKeyedRoute(spec)) return keys > 0;
  return spec.route === 'broadcast' || spec.route === 'keyspace' || spec.name === 'ping';
}

function peerRefusal(spec: CommandSpec): Buffer {
  const name = spec.parent !== undefined ? `${spec.parent.name} ${spec.name}` : spec.name;
  return errReply(`ERR Peer: ${name.toUpperCase()} is not served on the peer port (only keyed datastore commands)`);
}

export class PeerClient extends ClientConnection {
  readonly parser: DnodeParser;
  /** The protocol of the payloads: the pool's datastore's. */
  readonly adapter: ProtocolAdapter;
  private readonly inner: RespRequestParser;
  /** A memcached pool's peers send memcached requests (as Dynomite's do); null in a Redis pool. */
  private readonly mc: MemcacheRequestParser | null;
  private readonly maxPayload: number;
  /** Non-null until the peer proved it knows peer_secret; until then only one small auth frame is read. */
  private auth: PeerAuthServer | null = null;

  constructor(socket: Socket, pool: PoolContext, id: number) {
    super(socket, pool, id);
    this.maxPayload = Math.min(pool.config.maxRequestBytes, 0x7fffffff);
    this.parser = new DnodeParser({ ...DEFAULT_DNODE_LIMITS, maxPayloadBytes: this.maxPayload });
    this.adapter = adapterFor(pool.config.dataStore);
    this.inner = new RespRequestParser(pool.respLimits);
    this.mc = pool.config.dataStore === 1 ? new MemcacheRequestParser(pool.memcacheLimits) : null;
    pool.st[P.peer_connections_total]++;
    const secret = pool.config.peerSecret;
    // A Dynomite node cannot authenticate; the config pins Dynomite seeds to addresses no dynoproxy seed shares.
    if (secret !== null && !pool.fromDynomiteSeed(socket.remoteAddress)) {
      const auth = new PeerAuthServer(secret);
      this.auth = auth;
      this.parser.limitPayload(PEER_AUTH_MAX_PAYLOAD);
      socket.write(auth.challenge());
      setTimeout(() => {
        if (this.auth !== null && !this.closed) this.refuse();
      }, PEER_AUTH_TIMEOUT_MS).unref();
    }
  }

  /** Not authenticated: the refusal frame, then the connection closes; nothing of the peer's was served. */
  private refuse(): void {
    this.pool.st[P.peer_auth_failures_total]++;
    this.auth = null;
    this.socket.write(PEER_AUTH_REFUSAL);
    this.drainAndClose();
  }

  protected internalErrorReply(): Uint8Array {
    // A peer's request whose serving threw: the link closes without a frame (the peer fails what it had in flight on it).
    return EMPTY;
  }

  protected protocolErrorReply(): Uint8Array {
    // A peer that sends garbage is disconnected (counted as a protocol error).
    return EMPTY;
  }

  protected emit(req: Request, buf: Uint8Array, start: number, end: number): void {
    // The empty "reply" before closing a garbage stream is no message at all.
    if (end === start) return;
    if (req.replyKind !== RAW_FRAME) writeResponseHeader(this.out, req.msgId, end - start);
    this.out.append(buf, start, end);
  }

  protected frame(buf: Buffer, _start: number, _end: number): void {
    const d = this.parser;
    const auth = this.auth;
    if (auth !== null) {
      const ok = auth.answer(d.type, buf.subarray(d.payloadStart, d.payloadStart + d.payloadLen));
      if (ok === null) return this.refuse();
      this.auth = null;
      this.parser.limitPayload(this.maxPayload);
      this.socket.write(ok);
      return;
    }
    // A Dynomite node's gossip: answered (GOSSIP_SYN_REPLY with our records) so its link stays up; the cluster worker counts it.
    if (d.type === GOSSIP_SYN) {
      const req = acquireRequest(K_CLIENT);
      req.msgId = d.msgId;
      req.replyKind = RAW_FRAME;
      req.reply = answerGossipSyn(this.pool, d.msgId, buf.subarray(d.payloadStart, d.payloadStart + d.payloadLen), this.socket.remoteAddress ?? '?');
      req.done = true;
      this.enqueue(req);
      this.drain();
      return;
    }
    // Anything else that is not a request is ignored (Dynomite's other gossip types, a reply type sent the wrong way).
    if (d.type !== DMSG_REQ && d.type !== DMSG_REQ_FORWARD) return;
    // A coordinator whose client speaks RESP3 asks for RESP3 replies (a dynoproxy flag; Dynomite sends 0).
    this.resp3 = (d.flags & DNODE_FLAG_RESP3) !== 0;
    this.request(buf, d.payloadStart, d.payloadStart + d.payloadLen, d.msgId, d.type === DMSG_REQ_FORWARD);
  }

  nodeState(): number {
    return currentNodeState(this.pool);
  }

  /** Answer message `msgId` with a reply made here (refusals, malformed payloads), in its place in the reply order. */
  answer(msgId: number, reply: Uint8Array): void {
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.reply = reply;
    req.done = true;
    this.enqueue(req);
    this.drain();
  }

  /**
   * WATCH / UNWATCH from a coordinator whose client watches keys this node owns: the coordinator opened this link for that client
   * alone, so this connection pins a connection to the keys' datastore until the block's EXEC, an UNWATCH, or the link closes.
   */
  private watchFrame(spec: CommandSpec, q: RespRequestParser, buf: Buffer, ps: number, pe: number, msgId: number): void {
    const pool = this.pool;
    const unwatching = spec.name === 'unwatch';
    let server = watchedServer(this);
    if (unwatching) {
      if (server === null) return this.answer(msgId, OK);
    } else {
      const cl = pool.cluster;
      ensureScratch(q.argc, pool.servers.length);
      const n = keyIndexes(spec, q.argBuf, q.argOff, q.argLen, q.argc, scratch.keyIdx);
      if (n <= 0 || cl === null) return this.badRequest(msgId);
      const view = cl.current();
      const watched = server;
      server = null;
      for (let i = 0; i < n; i++) {
        const k = scratch.keyIdx[i];
        const ks = q.argOff[k];
        const ke = ks + q.argLen[k];
        if (view.ownerInRack(view.localRacks[0], cl.keyHash(q.argBuf, ks, ke)) !== view.localNode) return this.answer(msgId, WATCH_NOT_OWNED);
        const s = pool.router.serverFor(q.argBuf, ks, ke);
        if (s === null) return this.answer(msgId, pool.noBackendReply());
        if ((server !== null && s !== server) || (watched !== null && watched !== s)) return this.answer(msgId, WATCH_SPREAD);
        server = s;
      }
      if (this.pin !== null && this.pin.server.base !== server) this.unpinConnection(true);
    }
    const target = server as BackendServer;
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.startedAt = monotonicMs();
    this.enqueue(req);
    if (!unwatching) {
      if (this.pin !== null) this.pinReleasing = false;
      else {
        const pin = (this.resp3 ? target.resp3Server() : target).pin();
        if (pin === null) return completeLocally(req, WATCH_TOO_MANY);
        this.pinConnection(pin, req);
        req.pin = pin;
        pool.st[P.watch_pins_total]++;
      }
    }
    target.send(req, buf, ps, pe);
    if (unwatching) this.unpinConnection();
  }

  /** PUBLISH / SPUBLISH from a coordinator: to this node's datastore of the channel, whose subscribers (clients of this node) hear it. */
  private publishFrame(q: RespRequestParser, buf: Buffer, ps: number, pe: number, msgId: number): void {
    const server = this.pool.router.serverFor(q.argBuf, q.argOff[1], q.argOff[1] + q.argLen[1]);
    if (server === null) return this.answer(msgId, this.pool.noBackendReply());
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.startedAt = monotonicMs();
    this.enqueue(req);
    server.send(req, buf, ps, pe);
  }

  /** A rack peer's invalidation poll: in its place in the reply order, answered once this worker's datastore links track. */
  private invalidationsFrame(since: string, msgId: number): void {
    const hub = this.pool.tracking();
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.startedAt = monotonicMs();
    this.enqueue(req);
    const n = /^-?\d{1,15}$/.test(since) ? Number(since) : NaN;
    if (Number.isNaN(n)) return completeLocally(req, errReply('ERR Peer: DYNOPROXY.INVALIDATIONS <since> must be an integer'));
    // This frame's reference, taken now: a parked poll may outlive its connection, and its request must not be recycled (and then
    // answered as another connection's) meanwhile. deliverReply drops it.
    req.refs++;
    const finish = (reply: Uint8Array): void => {
      deliverReply(req, reply, 0, reply.length, reply[0] === 0x2d);
      afterIo();
    };
    hub.ensure(this.pool.servers, (ok) => {
      if (!ok) return finish(errReply('ERR Storage: the invalidation connection to the datastore failed'));
      hub.feed().poll(n, finish);
    });
  }

  protected onClosed(): void {
    releasePin(this, false);
  }

  /** A payload that is not one request this node serves: refused, counted (peer_requests_refused_total). */
  private badRequest(msgId: number): void {
    this.pool.st[P.peer_requests_refused_total]++;
    this.answer(msgId, BAD_REQUEST);
  }

  /** A memcached pool's peer: DYNOPROXY.GOSSIP or the hello, one RESP command; anything else is refused as a malformed request. */
  private memcacheMembership(buf: Buffer, ps: number, pe: number, msgId: number): void {
    const q = this.inner;
    q.reset();
    const first = q.parse(buf, ps, pe);
    if (first !== pe || q.argc === 0 || q.inline) {
      this.pool.st[P.peer_requests_refused_total]++;
      return this.answer(msgId, CLIENT_ERROR_PEER_MALFORMED);
    }
    if (isHelloRequest(q.argBuf, q.argOff, q.argLen, q.argc)) return this.answer(msgId, wrapMemcacheResp(HELLO_REPLY));
    if (isGossipCommand(q.argBuf, q.argOff[0], q.argLen[0]) && q.argc === 2) {
      return this.answer(msgId, wrapMemcacheResp(serveGossip(this.pool, q.argBuf.subarray(q.argOff[1], q.argOff[1] + q.argLen[1]), this.socket.remoteAddress ?? '?')));
    }
    this.pool.st[P.peer_requests_refused_total]++;
    this.answer(msgId, CLIENT_ERROR_PEER_MALFORMED);
  }

  private request(buf: Buffer, ps: number, pe: number, msgId: number, forwarded: boolean): void {
    if (this.mc !== null) {
      // A memcached node's range copy (dynoproxy_range: warm-up, join, leave) or a leave's purge (dynoproxy_purge), served only here,
      // on an authenticated peer link.
      const range = memcacheRangeCommand(buf, ps, pe);
      if (range !== 0) return serveMemcacheRange(this, buf, ps, pe, msgId, range === MC_PURGE);
      // Membership's hello and gossip (RESP: no memcached request starts with `*`), answered wrapped as one memcached value.
      if (buf[ps] === 0x2a) return this.memcacheMembership(buf, ps, pe, msgId);
      return serveMemcachePeer(this, this.mc, buf, ps, pe, msgId, forwarded);
    }
    const q = this.inner;
    q.reset();
    const first = q.parse(buf, ps, pe);
    // Peers send multibulk requests only: an inline line (a memcached request on a RESP node's link, say `get k` or
    // `touch k 10`) would otherwise run with Redis' meaning.
    if (first <= 0 || q.argc === 0 || q.inline) return this.badRequest(msgId);
    // dynoproxy's own range copy (warm-up): served only here, on an authenticated peer link, one command per frame.
    if (isRangeCommand(q.argBuf, q.argOff[0], q.argLen[0])) return first === pe ? serveRange(this, rangeArgs(q), msgId) : this.badRequest(msgId);
    // A token move's purge of what this node held of a range it is about to receive (leave.ts).
    if (isPurgeCommand(q.argBuf, q.argOff[0], q.argLen[0])) return first === pe ? serveRange(this, rangeArgs(q), msgId, true) : this.badRequest(msgId);
    // Membership (cluster/gossip.ts): DYNOPROXY.GOSSIP <records>, answered with ours.
    if (isGossipCommand(q.argBuf, q.argOff[0], q.argLen[0])) {
      if (first !== pe || q.argc !== 2) return this.badRequest(msgId);
      return this.answer(msgId, serveGossip(this.pool, q.argBuf.subarray(q.argOff[1], q.argOff[1] + q.argLen[1]), this.socket.remoteAddress ?? '?'));
    }
    // CLIENT TRACKING on the rack's other nodes: a long poll of the keys this node's datastore reported written (tracking-peers.ts).
    if (isInvalidationsCommand(q.argBuf, q.argOff[0], q.argLen[0])) {
      if (first !== pe || q.argc !== 2) return this.badRequest(msgId);
      return this.invalidationsFrame(Buffer.from(q.argBuf.subarray(q.argOff[1], q.argOff[1] + q.argLen[1])).toString('latin1'), msgId);
    }
    // Gossip's hello (a GET of a reserved key, harmless to Dynomite): this node runs dynoproxy.
    if (first === pe && isHelloRequest(q.argBuf, q.argOff, q.argLen, q.argc)) return this.answer(msgId, HELLO_REPLY);
    // Anti-entropy's digests, key lists, fetches and compare-and-set writes (cluster/repair.ts), likewise.
    if (isRepairCommand(q.argBuf, q.argOff[0], q.argLen[0])) return first === pe ? serveRepair(this, rangeArgs(q), msgId) : this.badRequest(msgId);
    const spec = resolveCommand(q.argBuf, q.argOff, q.argLen, q.argc);
    if (spec === undefined || !arityOk(spec, q.argc)) return this.badRequest(msgId);
    if (first !== pe) {
      // One payload, several commands: only a whole MULTI..EXEC block (a coordinator's transaction) is served so.
      if (spec.name !== 'multi') return this.badRequest(msgId);
      servePeerTxBlock(this, q, buf, ps, first, pe, msgId, forwarded);
      // A coordinator's watched EXEC (or a refused block): the watch ends here, as EXEC ends it in Redis.
      return releasePin(this, false);
    }
    if (spec.name === 'watch' || spec.name === 'unwatch') return this.watchFrame(spec, q, buf, ps, pe, msgId);
    if (spec.name === 'publish' || spec.name === 'spublish') return this.publishFrame(q, buf, ps, pe, msgId);
    const pool = this.pool;
    ensureScratch(q.argc, pool.servers.length);
    const n = keyIndexes(spec, q.argBuf, q.argOff, q.argLen, q.argc, scratch.keyIdx);
    if (!peerAllows(spec, n)) {
      pool.st[P.peer_requests_refused_total]++;
      return this.answer(msgId, peerRefusal(spec));
    }
    // Node state applies to peers as to clients: STANDBY serves nothing, WRITES_ONLY and RESUMING no reads.
    // A peer's write is applied, not held: the coordinator already answered its client (replication is asynchronous).
    const state = spec.name === 'ping' ? ST_NORMAL : currentNodeState(pool);
    if (state !== ST_NORMAL && (state === ST_STANDBY || !isWrite(spec))) {
      pool.st[P.state_rejected_total]++;
      return this.answer(msgId, STATE_ERROR);
    }
    // Warming up (cluster/warm-up.ts): this datastore is still being filled, so a peer's read is refused in words that make the peer
    // fail it over to the next replica, and the failure detector's PING is told (the peer then sends reads elsewhere at once).
    if (!isWrite(spec) && pool.cluster !== null && pool.cluster.warming()) {
      if (spec.name === 'ping') return this.answer(msgId, WARMING_PONG);
      pool.st[P.state_rejected_total]++;
      return this.answer(msgId, STATE_ERROR);
    }
    // SCAN, DBSIZE, KEYS ... over this node's own datastores (a coordinator covers its rack node by node).
    if (spec.route === 'keyspace') return keyspaceCommand(this, spec, q, true, msgId, (reply) => this.answer(msgId, reply));
    const k = scratch.keyIdx[0];
    const server = n > 0 ? pool.router.serverFor(q.argBuf, q.argOff[k], q.argOff[k] + q.argLen[k]) : pool.router.anyServer();
    // A blocking call (a coordinator's client BLPOP ...) blocks on a datastore connection of its own, never on a shared one.
    const blockMs = (spec.flags & F_BLOCKING) !== 0 ? blockTimeoutMs(spec, q.argBuf, q.argOff, q.argLen, q.argc) : -1;
    if (blockMs >= 0) {
      if (forwarded) return this.badRequest(msgId);
      if (server !== null && !blockingRoom(server, pool.config.maxBlockingConnections)) return this.answer(msgId, blockingFull(pool.config.maxBlockingConnections));
    }
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.startedAt = monotonicMs();
    req.blockMs = blockMs;
    this.enqueue(req);
    if (server === null) completeLocally(req, this.pool.noBackendReply());
    else server.send(req, buf, ps, pe);
    // A write handed over by another datacenter reaches the other racks of this one from here.
    const cl = pool.cluster;
    if (!forwarded || cl === null || !isWrite(spec) || n === 0) return;
    const others = cl.current().localRacks.subarray(1);
    if (others.length === 0) return;
    if (cl.dynomite !== null && cl.dynomite.fanOutForwarded(spec, q, n, others, buf, ps, pe)) return;
    const h = hashKeys(cl, q, n);
    if (spec.route === 'split-concat' || spec.route === 'split-sum' || spec.route === 'split-pairs') {
      replicatePieces(cl, q, n, h, spec, true);
    } else {
      replicateToLocalRacks(cl, h[0], buf, ps, pe);
    }
  }
}
