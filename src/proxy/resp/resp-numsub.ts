// PUBSUB NUMSUB / SHARDNUMSUB: the subscribers of each channel among this proxy's clients — every worker of this process (counted by
// its pub/sub hub, summed through the supervisor) and, on a cluster node, every node PUBLISH reaches (each answers for its own
// clients when asked on the peer port). The datastores cannot tell: each worker subscribes once for all its clients.
// Never blocks: the counts arrive asynchronously and the answer keeps its place in the reply order; a node that does not answer
// is left out of the sums.
import { newComposite, newPart, completeLocally, failRequest, monotonicMs, type BackendServer, type Merge, type Request } from '../../io/index.ts';
import { F_PEER_DOWN } from '../../protocol/failure/index.ts';
import { askNumsub } from '../worker-events.ts';
import type { Args } from '../routing/scratch.ts';
import type { PoolContext } from '../pool-context.ts';
import { bulkReply, intReply, errReply } from './resp-replies.ts';

export interface NumsubHost {
  readonly pool: PoolContext;
  readonly resp3: boolean;
  enqueue(req: Request): void;
}

const PEER_DOWN = errReply('ERR Peer: Peer Node is not connected');

/** `*2n name count ...`, or a map `%n` for RESP3. */
function encodeCounts(names: readonly string[], counts: readonly number[], resp3: boolean): Buffer {
  const parts: Buffer[] = [Buffer.from(resp3 ? `%${names.length}\r\n` : `*${names.length * 2}\r\n`)];
  names.forEach((n, i) => parts.push(bulkReply(Buffer.from(n, 'latin1')), intReply(counts[i] ?? 0)));
  return Buffer.concat(parts);
}

/** Sums the nodes' answers (flat arrays or maps of name, count), in the names' order; errors (a node down) add nothing. */
class NumsubMerge implements Merge {
  private readonly names: readonly string[];
  private readonly sums: number[];
  private readonly resp3: boolean;

  constructor(names: readonly string[], resp3: boolean) {
    this.names = names;
    this.sums = names.map(() => 0);
    this.resp3 = resp3;
  }

  part(_i: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (isError) return;
    const b = Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
    let p = b.indexOf(13) + 2;
    for (let i = 0; i < this.names.length && p > 1 && p < b.length; i++) {
      // $len\r\nname\r\n then :count\r\n
      const nl = b.indexOf(13, p);
      const len = Number(b.toString('latin1', p + 1, nl));
      p = nl + 2 + len + 2;
      const nl2 = b.indexOf(13, p);
      const n = Number(b.toString('latin1', p + 1, nl2));
      if (Number.isFinite(n)) this.sums[i] += n;
      p = nl2 + 2;
    }
  }

  finish(): Uint8Array {
    return encodeCounts(this.names, this.sums, this.resp3);
  }
}

/**
 * PUBSUB NUMSUB|SHARDNUMSUB name ...: `kind` 0 channels, 2 shard channels. `peers`: the links of the other nodes PUBLISH reaches
 * (null for a node down; empty on a single node or when a peer asks), sent the same request as `bytes`.
 */
export function numsub(h: NumsubHost, a: Args, kind: number, peers: readonly (BackendServer | null)[], bytes: Buffer, msgId: number): void {
  const names: string[] = [];
  for (let i = 2; i < a.argc; i++) names.push(Buffer.from(a.argBuf.buffer, a.argBuf.byteOffset + a.argOff[i], a.argLen[i]).toString('latin1'));
  const parent = newComposite(h, new NumsubMerge(names, h.resp3), 1 + peers.length, -1, monotonicMs());
  parent.msgId = msgId;
  const own = newPart(parent, 0);
  const pool = h.pool;
  const count = (): number[] => names.map((n) => pool.pubsub().count(kind, n));
  void askNumsub(pool.config.name, kind, names, count).then((counts) => completeLocally(own, encodeCounts(names, counts, false)));
  peers.forEach((server, i) => {
    const part = newPart(parent, i + 1);
    if (server === null) failRequest(part, F_PEER_DOWN, PEER_DOWN);
    else server.send(part, bytes, 0, bytes.length);
  });
}
