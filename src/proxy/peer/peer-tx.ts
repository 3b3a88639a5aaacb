// The peer port's MULTI blocks: one REQ / REQ_FORWARD frame whose payload is `MULTI, command..., EXEC`, sent by a coordinator at its client's EXEC.
// Never lets any of a block reach the datastore unless every command passes the peer gate, every key is this node's and the bounds hold;
// then sends it as one contiguous MULTI..EXEC on one backend connection, so no other request interleaves, and answers EXEC's reply.
import { resolveCommand, arityOk, keyIndexes, isWrite, isKeyedRoute, type CommandSpec } from '../../commands/index.ts';
import type { RespRequestParser } from '../../protocol/resp/index.ts';
import { acquireRequest, completeLocally, K_CLIENT, type Request, monotonicMs } from '../../io/index.ts';
import type { BackendServer } from '../../io/index.ts';
import { scratch, ensureScratch } from '../routing/scratch.ts';
import { replicateToLocalRacks } from '../routing/cluster-replicate.ts';
import { currentNodeState, STATE_ERROR } from '../node-state.ts';
import { ST_NORMAL, ST_STANDBY, P } from '../../stats/index.ts';
import { peerTxRefused, NO_BACKEND } from '../resp/resp-replies.ts';
import type { PoolContext } from '../pool-context.ts';

/** What PeerClient offers a block: its pool, its in-order reply queue, and a ready reply for a message id. */
export interface PeerTxHost {
  readonly pool: PoolContext;
  enqueue(req: Request): void;
  answer(msgId: number, reply: Uint8Array): void;
}

/** Proxy-answered commands Redis runs inside MULTI with no connection state (a client's MULTI may carry them). */
const STATELESS_IN_TX = new Set(['ping', 'echo', 'time']);

/** Inside a block: keyed datastore commands only (the peer gate's), plus PING, ECHO and TIME. */
function blockAllows(spec: CommandSpec, keys: number): boolean {
  if (isKeyedRoute(spec)) return keys > 0;
  return spec.parent === undefined && STATELESS_IN_TX.has(spec.name);
}

function refuseBlock(host: PeerTxHost, msgId: number, reason: string): void {
  host.pool.st[P.peer_requests_refused_total]++;
  host.answer(msgId, peerTxRefused(reason));
}

function nameOf(spec: CommandSpec): string {
  return (spec.parent !== undefined ? `${spec.parent.name} ${spec.name}` : spec.name).toUpperCase();
}

/**
 * Serve `buf[ps, pe)`, a MULTI block; `q` has just parsed its MULTI, which ends at `first`. `forwarded`: a write block
 * handed over by another datacenter, which this node also hands, whole, to the owners in its other racks.
 */
export function servePeerTxBlock(host: PeerTxHost, q: RespRequestParser, buf: Buffer, ps: number, first: number, pe: number, msgId: number, forwarded: boolean): void {
  const pool = host.pool;
  const cl = pool.cluster;
  const max = pool.config.maxTxCommands;
  const refuse = (reason: string): void => refuseBlock(host, msgId, reason);
  if (cl === null) return refuse('this node is not a cluster node');
  if (pe - first > pool.config.maxTxBytes + 64) return refuse(`larger than max_tx_bytes (${pool.config.maxTxBytes})`);
  const view = cl.current();
  const rack = view.localRacks[0];
  const ends = [first];
  let hash = Number.NaN;
  let server: BackendServer | null = null;
  let reads = false;
  let writes = false;
  let pos = first;
  for (;;) {
    if (pos >= pe) return refuse('it does not end with EXEC');
    q.reset();
    const r = q.parse(buf, pos, pe);
    if (r <= 0 || q.argc === 0 || q.inline) return refuse('malformed command');
    const spec = resolveCommand(q.argBuf, q.argOff, q.argLen, q.argc);
    if (spec === undefined || !arityOk(spec, q.argc)) return refuse('unknown command or wrong number of arguments');
    if (spec.name === 'exec' && spec.parent === undefined) {
      if (r !== pe) return refuse('bytes after EXEC');
      break;
    }
    if (ends.length > max) return refuse(`more than max_tx_commands (${max}) commands`);
    ensureScratch(q.argc, pool.servers.length);
    const n = keyIndexes(spec, q.argBuf, q.argOff, q.argLen, q.argc, scratch.keyIdx);
    if (n < 0 || !blockAllows(spec, n)) return refuse(`${nameOf(spec)} is not served on the peer port (only keyed datastore commands)`);
    for (let i = 0; i < n; i++) {
      const k = scratch.keyIdx[i];
      const off = q.argOff[k];
      const h = cl.keyHash(q.argBuf, off, off + q.argLen[k]);
      if (view.ownerInRack(rack, h) !== view.localNode) return refuse('a key is not owned by this node');
      const s = pool.router.serverFor(q.argBuf, off, off + q.argLen[k]);
      if (s !== null && server !== null && s !== server) return refuse('its keys map to several datastores of this node');
      if (s !== null) server = s;
      if (Number.isNaN(hash)) hash = h;
    }
    if (n > 0) {
      if (isWrite(spec)) writes = true;
      else reads = true;
    }
    ends.push(r);
    pos = r;
  }
  // Node state as for single peer requests: STANDBY serves nothing, WRITES_ONLY and RESUMING no reads (a block is all or nothing).
  const state = currentNodeState(pool);
  if (state !== ST_NORMAL && (state === ST_STANDBY || reads)) {
    pool.st[P.state_rejected_total]++;
    return host.answer(msgId, STATE_ERROR);
  }
  const target = server ?? pool.router.anyServer();
  const req = acquireRequest(K_CLIENT);
  req.msgId = msgId;
  req.startedAt = monotonicMs();
  host.enqueue(req);
  if (target === null) completeLocally(req, NO_BACKEND);
  else target.sendBlock(req, buf, ps, ends, pe);
  // A write block handed over by another datacenter reaches the other racks of this one from here, whole.
  if (forwarded && writes && !Number.isNaN(hash)) replicateToLocalRacks(cl, hash, buf, ps, pe);
}
