// Read repair (issue "availability" part 5, `read_repairs_enabled: true`): a DC_QUORUM / DC_SAFE_QUORUM read of one key whose local racks
// answered differently is checked again a moment later (replication may simply be in flight), and a replica whose value still differs
// from the majority's is rewritten with it — DUMP/PTTL from the majority, then RESTORE ... REPLACE (or DEL) on the divergent replica
// only if its value is still the one seen (a compare-and-set in one script), so a write that reached it meanwhile is never undone.
import { createHash } from 'node:crypto';
import { newComposite, newPart, monotonicMs, releaseRequest, failRequest, type ClientSession, type Merge, type Request } from '../../io/index.ts';
import { F_PEER_DOWN } from '../../protocol/failure/index.ts';
import { P } from '../../stats/index.ts';
import { respCommand } from './push-reader.ts';
import { QuorumMerge } from '../routing/merge.ts';
import type { ClusterRuntime, ReadRepairHook } from '../routing/cluster-runtime.ts';
import type { KeyRoute } from '../routing/cluster-walk.ts';
import type { ReplicaSet } from '../../topology/index.ts';

const NOT_CONNECTED = Buffer.from('-ERR Peer: Peer Node is not connected\r\n');

/** How long a mismatch is left to replication before it is checked again. */
export const READ_REPAIR_DELAY_MS = 500;

const CAS_RESTORE = `local cur = redis.call('DUMP', KEYS[1])
if (cur == false and ARGV[1] == '') or (cur ~= false and redis.sha1hex(cur) == ARGV[1]) then
  if ARGV[2] == '' then redis.call('DEL', KEYS[1]) return 1 end
  redis.call('RESTORE', KEYS[1], ARGV[3], ARGV[2], 'REPLACE')
  return 1
end
return 0`;

/** A bulk reply's content, or null for nil; undefined for anything else (an error). */
function bulkOf(r: Buffer): Buffer | null | undefined {
  if (r[0] !== 0x24) return undefined;
  if (r[1] === 0x2d) return null;
  const eol = r.indexOf(13);
  const len = Number(r.subarray(1, eol).toString('latin1'));
  return r.subarray(eol + 2, eol + 2 + len);
}

/** Collects every piece's reply (by index) and hands them over once all answered; the repair's own client. */
class Collect implements Merge {
  readonly hasSideEffects = true;
  readonly replies: Buffer[];
  constructor(n: number) {
    this.replies = new Array<Buffer>(n);
  }
  part(i: number, buf: Uint8Array, start: number, end: number): void {
    this.replies[i] = Buffer.from(buf.subarray(start, end));
  }
  finish(): Uint8Array {
    return this.replies[0] ?? Buffer.alloc(0);
  }
}

/** The client of a repair's requests: no socket; runs `done` with the collected replies. */
class RepairClient implements ClientSession {
  readonly closed = false;
  private readonly done: (replies: Buffer[]) => void;
  private readonly merge: Collect;
  constructor(merge: Collect, done: (replies: Buffer[]) => void) {
    this.merge = merge;
    this.done = done;
  }
  enqueue(req: Request): void {
    req.client = this;
    req.refs++;
  }
  replyArrived(req: Request): void {
    releaseRequest(req);
  }
  requestFinished(req: Request): void {
    this.done(this.merge.replies);
    releaseRequest(req);
  }
}

/** The same request to each node in `nodes`, for `key`; `done` gets the replies in that order. */
function ask(cl: ClusterRuntime, nodes: readonly number[], key: Buffer, bytes: readonly Buffer[], done: (replies: Buffer[]) => void): void {
  const merge = new Collect(nodes.length);
  const parent = newComposite(new RepairClient(merge, done), merge, nodes.length, -1, monotonicMs());
  for (let i = 0; i < nodes.length; i++) {
    const part = newPart(parent, i);
    const server = cl.upstream(nodes[i], key, 0, key.length);
    // A node that cannot be asked answers with an error: the repair skips what it cannot read.
    if (server === null) failRequest(part, F_PEER_DOWN, NOT_CONNECTED);
    else server.send(part, bytes[i], 0, bytes[i].length);
  }
}

/** Check `key` on the owners in the local racks again; rewrite the ones whose value differs from a majority's. */
export function repairKey(cl: ClusterRuntime, key: Buffer, nodes: readonly number[]): void {
  const dump = respCommand(['DUMP', key]);
  ask(cl, nodes, key, nodes.map(() => dump), (dumps) => {
    const values = dumps.map(bulkOf);
    if (values.some((v) => v === undefined)) return;
    const quorum = (nodes.length >> 1) + 1;
    let majority = -1;
    for (let i = 0; i < values.length && majority < 0; i++) {
      let same = 0;
      for (const w of values) if (w === values[i] || (w !== null && values[i] !== null && (w as Buffer).equals(values[i] as Buffer))) same++;
      if (same >= quorum) majority = i;
    }
    if (majority < 0) return;
    const good = values[majority] as Buffer | null;
    const divergent = nodes.filter((_n, i) => !(values[i] === good || (values[i] !== null && good !== null && (values[i] as Buffer).equals(good))));
    if (divergent.length === 0) return;
    const fix = (ttl: string): void => {
      const bytes = divergent.map((n) => {
        const seen = values[nodes.indexOf(n)] as Buffer | null;
        const digest = seen === null ? '' : createHash('sha1').update(seen).digest('hex');
        return respCommand(['EVAL', CAS_RESTORE, '1', key, digest, good ?? '', ttl]);
      });
      ask(cl, divergent, key, bytes, (results) => {
        for (const r of results) if (r.toString('latin1') === ':1\r\n') cl.st[P.read_repairs_total]++;
      });
    };
    if (good === null) return fix('0');
    ask(cl, [nodes[majority]], key, [respCommand(['PTTL', key])], ([pttl]) => {
      const ms = Number(pttl.toString('latin1').slice(1).trim());
      // -2: the key expired since; -1: no expiry (RESTORE's 0).
      if (ms === -2 || !Number.isFinite(ms)) return;
      fix(ms < 0 ? '0' : String(ms));
    });
  });
}

/** A quorum read's merge that also sees the late replies: a mismatch among the racks schedules a repair of the key. */
class RepairingQuorumMerge extends QuorumMerge {
  readonly hasSideEffects = true;
  private readonly cl: ClusterRuntime;
  private readonly key: Buffer;
  private readonly nodes: number[];
  private readonly seen: (Buffer | null)[];
  private answered = 0;

  constructor(total: number, safe: boolean, noQuorum: Buffer, cl: ClusterRuntime, key: Buffer, nodes: number[]) {
    super(total, safe, noQuorum);
    this.cl = cl;
    this.key = key;
    this.nodes = nodes;
    this.seen = new Array<Buffer | null>(total).fill(null);
  }

  override part(index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (!this.decided) super.part(index, buf, start, end, isError);
    this.seen[index] = isError ? null : Buffer.from(buf.subarray(start, end));
    if (++this.answered < this.nodes.length) return;
    // Every rack answered: all alike (or an error somewhere, which says nothing about the data) means nothing to do.
    const first = this.seen[0];
    if (this.seen.some((s) => s === null) || this.seen.every((s) => (s as Buffer).equals(first as Buffer))) return;
    this.cl.st[P.read_repair_mismatches_total]++;
    const { cl, key, nodes } = this;
    setTimeout(() => repairKey(cl, key, nodes), READ_REPAIR_DELAY_MS).unref();
  }
}

/** The hook quorum routing calls for a one-key read (routing/strategies.ts): the merge that repairs. */
export const READ_REPAIR: ReadRepairHook = {
  merge(cl: ClusterRuntime, r: KeyRoute, set: ReplicaSet, locals: number, safe: boolean, noQuorum: Buffer): Merge {
    const nodes: number[] = [];
    for (let i = 0; i < locals; i++) nodes.push(set.node[i]);
    return new RepairingQuorumMerge(locals, safe, noQuorum, cl, Buffer.from(r.kb.subarray(r.ks, r.ke)), nodes);
  },
};
