// MemcacheClient: a client connection speaking memcached's text and meta protocols, routed over the same pools and ring as RESP.
// Never lets noreply or quiet mode desynchronise a backend: every forwarded request gets a reply, which the proxy drops when the client asked for silence.
import type { Socket } from 'node:net';
import * as M from '../../protocol/memcache/index.ts';
import { ClientConnection } from '../client-connection.ts';
import { MEMCACHE_ADAPTER } from '../protocol-adapter.ts';
import {
  acquireRequest, newComposite, newPart, K_CLIENT, K_INTERNAL_DISCARD, DROP_ALL, DROP_EN, DROP_HD, DROP_HD_VA, type Request, type Merge, monotonicMs, DIRECT_WRITE_THRESHOLD,
} from '../../io/index.ts';
import type { BackendServer } from '../../io/index.ts';
import { scratch, ensureScratch, encReset, encRaw, groupByOwner } from '../routing/scratch.ts';
import { MemcacheAllOkMerge } from './memcache-merge.ts';
import { clusterKeyed, clusterRetrieval, clusterUnlink, encodeGetPiece, getMerge } from './memcache-cluster.ts';
import { P, commandGroupIndex, ST_NORMAL, ST_STANDBY } from '../../stats/index.ts';
import { currentNodeState } from '../node-state.ts';
import type { PoolContext } from '../pool-context.ts';

const GROUP = commandGroupIndex('memcached');
const NOREPLY = Buffer.from(' noreply');
const EMPTY = Buffer.alloc(0);
const NO_BACKEND = M.SERVER_ERROR_NO_DATASTORE;
const STATE_ERROR = M.SERVER_ERROR_INVALID_STATE;

/** memcached's words when it cannot store a value for lack of memory. */
const OOM_STORING = Buffer.from('SERVER_ERROR out of memory storing object\r\n');

export class MemcacheClient extends ClientConnection {
  readonly parser: M.MemcacheRequestParser;
  readonly adapter = MEMCACHE_ADAPTER;

  constructor(socket: Socket, pool: PoolContext, id: number) {
    super(socket, pool, id);
    this.parser = MEMCACHE_ADAPTER.newParser(pool);
    // Every memcached request is counted in one family: so are the errors the proxy answers itself.
    this.localGroup = GROUP;
  }

  protected frame(buf: Buffer, start: number, end: number, gathered: boolean): void {
    const p = this.parser;
    const st = this.pool.st;
    st[P.requests_total]++;
    this.pool.groupSt[GROUP * 2]++;
    if (p.cmd !== M.CMD_INVALID && this.stateRefuses(p.cmd)) return this.replyLocal(p.noreply || p.quiet ? EMPTY : STATE_ERROR);
    // max_memory: a command storing a value (it carries a data block) is refused in memcached's words.
    if (this.pool.overMemory && p.dataLen >= 0 && p.cmd !== M.CMD_INVALID) {
      st[P.oom_rejected_total]++;
      return this.replyLocal(p.noreply || p.quiet ? EMPTY : OOM_STORING);
    }
    switch (p.cmd) {
      case M.CMD_INVALID:
        // memcached unlinks the key of a refused too-large value: the owner must not keep serving the old one.
        if (p.errorMessage === M.MSG_TOO_LARGE && p.keyCount === 1) this.unlinkTooLarge(buf);
        return this.replyLocal(p.noreply ? EMPTY : M.requestErrorReply(p.errorMessage));
      case M.CMD_GET:
      case M.CMD_GETS:
      case M.CMD_GAT:
      case M.CMD_GATS:
        return this.retrieval(buf, start, end, gathered);
      case M.CMD_QUIT:
        return this.replyLocal(EMPTY, true);
      case M.CMD_MN:
        return this.replyLocal(M.REPLY_MN);
      case M.CMD_VERBOSITY:
        return this.replyLocal(p.noreply ? EMPTY : M.REPLY_OK);
      case M.CMD_STATS:
        return this.replyLocal(this.statsCommand(buf, start));
      case M.CMD_VERSION: {
        const s = this.pool.router.anyServer();
        if (s === null) return this.replyLocal(NO_BACKEND);
        return this.forward(s, buf, start, end, gathered, M.RK_VERSION, 0);
      }
      case M.CMD_FLUSH_ALL:
        return this.flushAll(buf, start, end);
      case M.CMD_ADMIN:
        return this.replyLocal(M.clientError('dynoproxy: this command administers one memcached server and is not supported through the proxy'));
      default:
        return this.keyed(buf, start, end, gathered);
    }
  }

  /** One-key commands: storage, delete, incr/decr, touch, meta. */
  private keyed(buf: Buffer, start: number, end: number, gathered: boolean): void {
    const cl = this.pool.cluster;
    if (cl !== null) return clusterKeyed(this, cl, buf, start, end);
    const p = this.parser;
    const [kb, ks, ke] = this.keyRangeIn(buf);
    const server = this.pool.router.serverFor(kb, ks, ke);
    if (server === null) return this.replyLocal(NO_BACKEND);
    const kind = M.replyKindFor(p.cmd);
    if (p.noreply) return this.forwardWithout(server, buf, start, end, this.noreplyTokenStart(buf), NOREPLY.length, kind, DROP_ALL);
    if (p.quiet) {
      const drop = p.cmd === M.CMD_MG ? DROP_EN : p.cmd === M.CMD_MA ? DROP_HD_VA : DROP_HD;
      return this.forwardWithout(server, buf, start, end, this.quietFlagStart(buf), 2, kind, drop);
    }
    this.forward(server, buf, start, end, gathered, kind, 0);
  }

  /**
   * Node states (admin /state): STANDBY refuses every datastore command, WRITES_ONLY and RESUMING refuse reads.
   * memcached writes are not held in WRITES_ONLY (unlike RESP's): they go through.
   */
  private stateRefuses(cmd: number): boolean {
    const s = currentNodeState(this.pool);
    if (s === ST_NORMAL) return false;
    if (cmd === M.CMD_QUIT || cmd === M.CMD_MN || cmd === M.CMD_VERSION || cmd === M.CMD_STATS || cmd === M.CMD_VERBOSITY) return false;
    const read = M.isRetrieval(cmd) || cmd === M.CMD_MG || cmd === M.CMD_ME;
    if (s === ST_STANDBY || read) {
      this.pool.st[P.state_rejected_total]++;
      return true;
    }
    return false;
  }

  /** Bytes the key hashes from: the decoded key for meta commands with the b flag, so placement matches plain keys. */
  private keyRangeIn(buf: Buffer): [Uint8Array, number, number] {
    const p = this.parser;
    if (p.keyBinary) return [p.decodedKey, 0, p.decodedKeyLen];
    return [buf, p.keyOff[0], p.keyOff[0] + p.keyLen[0]];
  }

  private newRequest(kind: number, drop: number): Request {
    const req = acquireRequest(K_CLIENT);
    req.startedAt = monotonicMs();
    req.group = GROUP;
    req.replyKind = kind;
    req.dropMode = drop;
    this.enqueue(req);
    return req;
  }

  private forward(server: BackendServer, buf: Buffer, start: number, end: number, gathered: boolean, kind: number, drop: number): void {
    const req = this.newRequest(kind, drop);
    if (gathered && end - start >= DIRECT_WRITE_THRESHOLD) return server.sendOwned(req, this.takeGathered().subarray(start, end));
    server.send(req, buf, start, end);
  }

  /**
   * Forward with one token removed from the command line (` noreply`, or the meta ` q` flag), so the backend
   * answers and the reply stream stays in step; the reply is then dropped for the client.
   */
  private forwardWithout(server: BackendServer, buf: Buffer, start: number, end: number, cut: number, cutLen: number, kind: number, drop: number): void {
    // A failure reply is dropped like any other when the client asked for silence (DROP_ALL drops every reply).
    const req = this.newRequest(kind, drop);
    if (cut < 0) return server.send(req, buf, start, end);
    server.sendSpliced(req, buf, start, cut, cut + cutLen, end);
  }

  /** Offset of " noreply" at the end of the command line, or -1. */
  private noreplyTokenStart(buf: Buffer): number {
    return M.noreplyTokenStart(this.parser, buf);
  }

  /** Offset of the " q" flag token among the meta flags, or -1. */
  private quietFlagStart(buf: Buffer): number {
    return M.quietFlagStart(this.parser, buf);
  }

  /** get/gets/gat/gats: one request per owning backend, values merged back in the client's key order. */
  private retrieval(buf: Buffer, start: number, end: number, gathered: boolean): void {
    const cl = this.pool.cluster;
    if (cl !== null) return clusterRetrieval(this, cl, buf, start, end);
    const p = this.parser;
    const n = p.keyCount;
    const router = this.pool.router;
    const servers = this.pool.servers;
    ensureScratch(n, servers.length);
    const owner = scratch.owner;
    let first: BackendServer | null = null;
    let same = true;
    for (let i = 0; i < n; i++) {
      const s = router.serverFor(buf, p.keyOff[i], p.keyOff[i] + p.keyLen[i]);
      if (s === null) return this.replyLocal(NO_BACKEND);
      owner[i] = s.index;
      if (first === null) first = s;
      else if (s !== first) same = false;
    }
    if (first === null) return this.replyLocal(M.REPLY_END);
    if (same) return this.forward(first, buf, start, end, gathered, M.RK_RETRIEVAL, 0);
    const pieces = groupByOwner(owner, n, servers.length);
    const parent = this.composite(getMerge(p, buf, n, pieces), pieces);
    this.pool.st[P.requests_split_total]++;
    for (let piece = 0; piece < pieces; piece++) {
      encodeGetPiece(p, buf, start, n, piece);
      servers[scratch.pieceOwner[piece]].send(newPart(parent, piece, M.RK_RETRIEVAL), scratch.enc, 0, scratch.encLen);
    }
  }

  private composite(merge: Merge, pieces: number): Request {
    return newComposite(this, merge, pieces, GROUP, monotonicMs());
  }

  /** flush_all goes to every backend; OK when all said OK (noreply: nothing). */
  private flushAll(buf: Buffer, start: number, end: number): void {
    const p = this.parser;
    const live = this.pool.router.liveServers;
    if (live.length === 0) return this.replyLocal(p.noreply ? EMPTY : NO_BACKEND);
    const parent = this.composite(new MemcacheAllOkMerge(p.noreply), live.length);
    const cut = p.noreply ? this.noreplyTokenStart(buf) : -1;
    for (let i = 0; i < live.length; i++) {
      const child = newPart(parent, i, M.RK_OK);
      if (cut < 0) live[i].send(child, buf, start, end);
      else live[i].sendSpliced(child, buf, start, cut, cut + NOREPLY.length, end);
    }
  }

  /** `delete <key>` to the key's owner, reply dropped (the too-large value's key, as memcached unlinks it). */
  private unlinkTooLarge(buf: Buffer): void {
    const cl = this.pool.cluster;
    if (cl !== null) return clusterUnlink(cl, this.parser, buf);
    const [kb, ks, ke] = this.keyRangeIn(buf);
    const server = this.pool.router.serverFor(kb, ks, ke);
    if (server === null) return;
    encReset();
    encRaw(DELETE, 0, DELETE.length);
    encRaw(buf, this.parser.keyOff[0], this.parser.keyOff[0] + this.parser.keyLen[0]);
    encRaw(CRLF, 0, 2);
    const req = acquireRequest(K_INTERNAL_DISCARD);
    req.replyKind = M.RK_DELETE;
    server.send(req, scratch.enc, 0, scratch.encLen);
  }

  /**
   * `stats` describes the proxy (its own STAT lines); `stats reset` answers RESET; any other argument is ERROR,
   * as memcached answers unknown ones (slabs, items ... describe one memcached server: ask the backends).
   */
  private statsCommand(buf: Buffer, start: number): Buffer {
    let i = start + 5;
    const le = this.parser.lineEnd;
    while (i < le && buf[i] === 0x20) i++;
    let j = i;
    while (j < le && buf[j] !== 0x20 && buf[j] !== 0x0d && buf[j] !== 0x0a) j++;
    if (j === i) return this.stats();
    if (j - i === 5 && buf.toString('latin1', i, j) === 'reset') return M.REPLY_RESET;
    return M.REPLY_ERROR;
  }

  private stats(): Buffer {
    const pool = this.pool;
    const up = Math.floor(process.uptime());
    const lines = [
      `STAT pid ${process.pid}`,
      `STAT uptime ${up}`,
      `STAT time ${Math.floor(Date.now() / 1000)}`,
      `STAT version dynoproxy-0.1.0`,
      `STAT curr_connections ${pool.clientCount}`,
      `STAT dynoproxy_pool ${pool.config.name}`,
      `STAT dynoproxy_servers ${pool.servers.length}`,
      `STAT dynoproxy_live_servers ${pool.router.liveServers.length}`,
      'END',
    ];
    return Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
  }
}

const CRLF = Buffer.from('\r\n');
const DELETE = Buffer.from('delete ');
