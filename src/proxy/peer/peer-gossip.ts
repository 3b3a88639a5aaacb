// The peer port's side of gossip: a peer's DYNOPROXY.GOSSIP (or a Dynomite node's GOSSIP_SYN frame) is handed to the cluster worker,
// which owns membership, and answered at once with this node's latest records (the cluster worker sends them after every round).
// Never merges anything itself and never waits for the cluster worker: the answer may be one round old, which gossip tolerates.
import { encodeGossipReply } from '../../protocol/resp/index.ts';
import { DnodeHeaderTemplate, DNODE_DATA_GOSSIP, DNODE_VERSION, GOSSIP_SYN_REPLY, parseGossipNodes } from '../../protocol/dnode/index.ts';
import { reportGossip } from '../worker-events.ts';
import { P } from '../../stats/index.ts';
import { errReply } from '../resp/resp-replies.ts';
import type { PoolContext } from '../pool-context.ts';

let digest: Uint8Array | null = null;
let reply: Buffer | null = null;

/** The cluster worker's latest records (worker.ts, on its message). */
export function setGossipDigest(payload: Uint8Array): void {
  digest = payload;
  reply = encodeGossipReply(payload);
}

const GOSSIP_OFF = errReply('ERR Peer: gossip is off on this node (enable_gossip: false)');
const GOSSIP_MALFORMED = errReply('ERR Peer: malformed gossip records');
/** Records a node may send in one message: bounded by the payload limit of the link anyway; this is the bytes' bound. */
const MAX_GOSSIP_BYTES = 1 << 20;

/** DYNOPROXY.GOSSIP <records>: the records go to the cluster worker, the answer is ours. */
export function serveGossip(pool: PoolContext, records: Uint8Array, from: string): Uint8Array {
  if (!pool.config.enableGossip || reply === null) return GOSSIP_OFF;
  if (records.length > MAX_GOSSIP_BYTES) {
    pool.st[P.peer_requests_refused_total]++;
    return GOSSIP_MALFORMED;
  }
  reportGossip(Uint8Array.from(records), from, false);
  return reply;
}

const SYN_REPLY = new DnodeHeaderTemplate(GOSSIP_SYN_REPLY, 0, DNODE_VERSION, 1, DNODE_DATA_GOSSIP);

/**
 * A Dynomite node's GOSSIP_SYN frame (type 7, `dc$rack$token,ts,state,host` records): parsed (a malformed one is counted), handed on
 * to be counted, and answered with a GOSSIP_SYN_REPLY frame of our records under the same msg id, so the link stays up. Returns the frame.
 */
export function answerGossipSyn(pool: PoolContext, msgId: number, payload: Uint8Array, from: string): Buffer {
  const parsed = parseGossipNodes(payload);
  if (!parsed.ok) pool.st[P.peer_requests_refused_total]++;
  else reportGossip(Uint8Array.from(payload), from, true);
  const body = digest ?? new Uint8Array(0);
  const out = Buffer.allocUnsafe(SYN_REPLY.length(msgId, body.length) + body.length);
  const n = SYN_REPLY.write(out, 0, msgId, body.length);
  out.set(body, n);
  return out.subarray(0, n + body.length);
}

