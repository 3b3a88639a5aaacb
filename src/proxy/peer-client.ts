// PeerClient: a connection accepted on dyn_listen from another node: dnode REQ / REQ_FORWARD frames in, RES frames out (same msg id).
// Never routes a peer's request back into the cluster, except a write forwarded from another datacenter, which it fans out to its own DC's racks.
import type { Socket } from 'node:net';
import { DnodeParser, DEFAULT_DNODE_LIMITS, DMSG_REQ, DMSG_REQ_FORWARD } from '../peer/index.ts';
import { RespRequestParser } from '../protocol/resp/index.ts';
import { resolveCommand, arityOk, keyIndexes, isWrite } from '../commands/index.ts';
import { ClientConnection } from './client-connection.ts';
import { acquireRequest, completeLocally, K_CLIENT, type Request } from './request.ts';
import { writeResponseHeader } from './peer-link.ts';
import { scratch, ensureScratch } from './scratch.ts';
import { hashKeys, replicatePieces, fireAndForgetTo } from './cluster-dispatch.ts';
import { errReply, storageErrorReply, NO_BACKEND } from './resp-replies.ts';
import { monotonicMs } from './clock.ts';
import type { PoolRuntime } from './pool.ts';

const EMPTY = Buffer.alloc(0);
const BAD_REQUEST = errReply('ERR Peer: malformed request payload');

export class PeerClient extends ClientConnection {
  readonly parser: DnodeParser;
  private readonly inner: RespRequestParser;

  constructor(socket: Socket, pool: PoolRuntime, id: number) {
    super(socket, pool, id);
    this.parser = new DnodeParser({ ...DEFAULT_DNODE_LIMITS, maxPayloadBytes: Math.min(pool.config.maxRequestBytes, 0x7fffffff) });
    this.inner = new RespRequestParser(pool.respLimits);
  }

  protected protocolErrorReply(): Uint8Array {
    // A peer that sends garbage is disconnected (counted as a protocol error).
    return EMPTY;
  }

  protected emit(req: Request, buf: Uint8Array, start: number, end: number): void {
    // The empty "reply" before closing a garbage stream is no message at all.
    if (end === start) return;
    writeResponseHeader(this.out, req.msgId, end - start);
    this.out.append(buf, start, end);
  }

  protected frame(buf: Buffer, _start: number, _end: number): void {
    const d = this.parser;
    // Gossip and anything else are not requests: the cluster worker owns membership.
    if (d.type !== DMSG_REQ && d.type !== DMSG_REQ_FORWARD) return;
    this.request(buf, d.payloadStart, d.payloadStart + d.payloadLen, d.msgId, d.type === DMSG_REQ_FORWARD);
  }

  private answer(msgId: number, reply: Uint8Array): void {
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.reply = reply;
    req.done = true;
    this.enqueue(req);
    this.drain();
  }

  private request(buf: Buffer, ps: number, pe: number, msgId: number, forwarded: boolean): void {
    const q = this.inner;
    q.reset();
    if (q.parse(buf, ps, pe) !== pe || q.argc === 0) return this.answer(msgId, BAD_REQUEST);
    const spec = resolveCommand(q.argBuf, q.argOff, q.argLen, q.argc);
    if (spec === undefined || !arityOk(spec, q.argc)) return this.answer(msgId, BAD_REQUEST);
    const pool = this.pool;
    ensureScratch(q.argc, pool.servers.length);
    const n = Math.max(0, keyIndexes(spec, q.argBuf, q.argOff, q.argLen, q.argc, scratch.keyIdx));
    const k = scratch.keyIdx[0];
    const server = n > 0 ? pool.router.serverFor(q.argBuf, q.argOff[k], q.argOff[k] + q.argLen[k]) : pool.router.anyServer();
    const req = acquireRequest(K_CLIENT);
    req.msgId = msgId;
    req.startedAt = monotonicMs();
    this.enqueue(req);
    if (server === null) completeLocally(req, NO_BACKEND);
    else {
      const conn = server.pick(monotonicMs());
      if (conn === null) completeLocally(req, storageErrorReply(server.lastError));
      else conn.send(req, buf, ps, pe);
    }
    // A write handed over by another datacenter reaches the other racks of this one from here.
    const cl = pool.cluster;
    if (!forwarded || cl === null || !isWrite(spec) || n === 0) return;
    const others = cl.map.localRacks.slice(1);
    if (others.length === 0) return;
    const h = hashKeys(cl.map, q, n);
    if (spec.route === 'split-concat' || spec.route === 'split-sum' || spec.route === 'split-pairs') {
      replicatePieces(cl, q, n, h, spec.route === 'split-pairs', others, []);
    } else {
      for (const r of others) fireAndForgetTo(cl, cl.map.ownerInRack(r, h[0]), q, k, buf, ps, pe);
    }
  }
}
