// The peer port of a memcached cluster node: one memcached request per dnode REQ / REQ_FORWARD payload, served by this node's datastore.
// Never sends the datastore a command that is not a keyed datastore command (no flush_all, stats, verbosity, admin, quit, version), never
// lets a noreply or q reach it (the shared backend connection's reply stream would desync), and never routes a request back into the cluster
// except a write forwarded from another datacenter, which it fans out to its own datacenter's other racks.
import * as M from '../../protocol/memcache/index.ts';
import { ST_NORMAL, ST_STANDBY, P } from '../../stats/index.ts';
import { acquireRequest, completeLocally, K_CLIENT, type Request, monotonicMs } from '../../io/index.ts';
import { scratch, encReset, encRaw } from '../routing/scratch.ts';
import { keyRoute, REPLICATE } from '../routing/cluster-walk.ts';
import { isMemcacheWrite } from '../memcache/memcache-cluster.ts';
import type { Router } from '../routing/router.ts';
import type { ClusterRuntime } from '../routing/cluster-runtime.ts';


/** What the peer connection offers: its pool's counters, placement and cluster, its reply queue, a way to answer a message itself. */
export interface MemcachePeerSession {
  readonly pool: { readonly st: Float64Array; readonly router: Router; readonly cluster: ClusterRuntime | null };
  enqueue(req: Request): void;
  answer(msgId: number, reply: Uint8Array): void;
  /** The node state (ST_*) requests are served under now. */
  nodeState(): number;
}

/** Keyed datastore commands a coordinator sends a peer; mn is the failure detector's probe (answered here). */
function peerServes(cmd: number): boolean {
  return isMemcacheWrite(cmd) || M.isRetrieval(cmd) || cmd === M.CMD_MG || cmd === M.CMD_ME;
}

function isRead(cmd: number): boolean {
  return M.isRetrieval(cmd) || cmd === M.CMD_MG || cmd === M.CMD_ME;
}

/** Serve the memcached request in buf[ps, pe) for message `msgId`; `forwarded`: a write handed over by another datacenter. */
export function serveMemcachePeer(
  pc: MemcachePeerSession, q: M.MemcacheRequestParser, buf: Buffer, ps: number, pe: number, msgId: number, forwarded: boolean,
): void {
  const pool = pc.pool;
  q.reset();
  // Exactly one well-formed request: a RESP payload, a partial or a pipelined one is refused (a peer of another data_store, or a stranger).
  if (q.parse(buf, ps, pe) !== pe || q.cmd === M.CMD_INVALID) {
    q.reset();
    pool.st[P.peer_requests_refused_total]++;
    return pc.answer(msgId, M.CLIENT_ERROR_PEER_MALFORMED);
  }
  const cmd = q.cmd;
  if (cmd === M.CMD_MN) return pc.answer(msgId, M.REPLY_MN);
  if (!peerServes(cmd)) {
    pool.st[P.peer_requests_refused_total]++;
    return pc.answer(msgId, M.peerRefusal(M.commandName(cmd)));
  }
  // Node state applies to peers as to clients: STANDBY serves nothing, WRITES_ONLY and RESUMING no reads.
  const state = pc.nodeState();
  if (state !== ST_NORMAL && (state === ST_STANDBY || isRead(cmd))) {
    pool.st[P.state_rejected_total]++;
    return pc.answer(msgId, M.SERVER_ERROR_INVALID_STATE);
  }
  // Warming up (cluster/warm-up.ts): the datastore is still being filled; a peer's read is refused with the state's words (hinted-handoff's
  // "not stored" words for a state refusal: the peer fails the read over to the next replica).
  if (isRead(cmd) && pool.cluster !== null && pool.cluster.warming()) {
    pool.st[P.state_rejected_total]++;
    return pc.answer(msgId, M.SERVER_ERROR_INVALID_STATE);
  }
  const kb: Uint8Array = q.keyBinary ? q.decodedKey : buf;
  const ks = q.keyBinary ? 0 : q.keyOff[0];
  const ke = q.keyBinary ? q.decodedKeyLen : q.keyOff[0] + q.keyLen[0];
  // A sender that kept noreply or q (ours never do) still gets its reply: the token is cut before the datastore sees it.
  let bytes: Uint8Array = buf;
  let s = ps;
  let e = pe;
  const cut = q.noreply ? M.noreplyTokenStart(q, buf) : q.quiet ? M.quietFlagStart(q, buf) : -1;
  if (cut >= 0) {
    encReset();
    encRaw(buf, ps, cut);
    encRaw(buf, cut + (q.noreply ? M.NOREPLY_CUT : M.QUIET_CUT), pe);
    bytes = scratch.enc;
    s = 0;
    e = scratch.encLen;
  }
  const kind = M.replyKindFor(cmd);
  const req = acquireRequest(K_CLIENT);
  req.msgId = msgId;
  req.startedAt = monotonicMs();
  req.replyKind = kind;
  pc.enqueue(req);
  const server = pool.router.serverFor(kb, ks, ke);
  if (server === null) completeLocally(req, M.SERVER_ERROR_NO_DATASTORE, true);
  else server.send(req, bytes, s, e);
  // A write handed over by another datacenter reaches the other racks of this one from here.
  const cl = pool.cluster;
  if (!forwarded || cl === null || !isMemcacheWrite(cmd)) return;
  if (cl.current().localRacks.length === 1) return;
  REPLICATE.localDc(cl, keyRoute.key(kb, ks, ke, cl.keyHash(kb, ks, ke)).payload(bytes, s, e, true, kind, 0, -1));
}
