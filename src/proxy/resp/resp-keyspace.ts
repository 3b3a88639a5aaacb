// Commands over the whole keyspace (issue "command surface" part 3): SCAN with a cursor that names the backend (single node) or the
// node of this rack (cluster node) and that one's own cursor, DBSIZE summed, KEYS / RANDOMKEY behind `allow_keys`, FLUSHALL / FLUSHDB
// behind `allow_flush`. The peer server serves the same commands for its own datastores, so a rack is covered node by node.
// Never answers for a keyspace it did not ask: a cursor naming no backend or node is refused, as Redis refuses a bad cursor.
import type { CommandSpec } from '../../commands/index.ts';
import { newComposite, newPart, monotonicMs, failRequest, type BackendServer, type Merge, type Request } from '../../io/index.ts';
import { arrayElementBounds } from '../../protocol/resp/index.ts';
import { F_PEER_DOWN } from '../../protocol/failure/index.ts';
import { SumMerge, AllOkMerge } from '../routing/merge.ts';
import type { Args } from '../routing/scratch.ts';
import type { PoolContext } from '../pool-context.ts';
import * as R from './resp-replies.ts';
import { numsub } from './resp-numsub.ts';

/** What a keyspace command needs of the connection it answers: a client's (RespSession) or a peer's (PeerClient, msg ids framed). */
export interface KeyspaceHost {
  readonly pool: PoolContext;
  /** The answer's protocol (PUBSUB NUMSUB answers a map in RESP3). */
  readonly resp3: boolean;
  enqueue(req: Request): void;
}

const INVALID_CURSOR = R.errReply('ERR invalid cursor');
const PEER_DOWN = R.errReply('ERR Peer: Peer Node is not connected');
const KEYS_OFF = R.errReply(
  'ERR dynoproxy: KEYS and RANDOMKEY read every backend of the rack; set allow_keys: true in the pool to allow them (SCAN works without it)',
);
const DYNOMITE_PEERS = R.errReply('ERR dynoproxy: whole-keyspace commands are not served in a cluster with Dynomite nodes (Dynomite cannot parse them)');
const FLUSH_OFF = R.errReply('ERR dynoproxy: FLUSHALL and FLUSHDB empty every backend of every rack; set allow_flush: true in the pool to allow them');

/** One place a part of the keyspace lives: a datastore server of this node, or the link to another node of this rack. */
type Target = { server: BackendServer | null; peer: boolean };

/** The whole keyspace as this connection sees it: every datastore server (a peer asking, or a single node), or every node of this rack. */
function targets(h: KeyspaceHost, forPeer: boolean, allRacks: boolean, localDc = false): Target[] {
  const cl = h.pool.cluster;
  if (cl === null || forPeer) return h.pool.servers.map((s) => ({ server: s, peer: false }));
  const view = cl.current();
  const racks = allRacks ? Array.from(view.allRacksByDc) : localDc ? Array.from(view.localRacks) : [view.localRacks[0]];
  const out: Target[] = [];
  for (const r of racks) {
    for (const node of view.racks[r].nodes) {
      if (view.nodes[node].local) for (const s of h.pool.servers) out.push({ server: s, peer: false });
      else out.push({ server: cl.isDown(node) ? null : (cl.links[node] ?? null), peer: true });
    }
  }
  return out;
}

/** The other nodes PUBLISH reaches from this one (pubsub_scope: this datacenter, or every one): their links, null for one down. */
function publishPeers(h: KeyspaceHost): (BackendServer | null)[] {
  const cl = h.pool.cluster;
  if (cl === null) return [];
  const view = cl.current();
  const racks = h.pool.config.pubsubScope === 'cluster' ? Array.from(view.allRacksByDc) : Array.from(view.localRacks);
  const out: (BackendServer | null)[] = [];
  for (const r of racks) for (const n of view.racks[r].nodes) if (!view.nodes[n].local) out.push(cl.isDown(n) ? null : (cl.links[n] ?? null));
  return out;
}

function argText(a: Args, i: number): string {
  return Buffer.from(a.argBuf.buffer, a.argBuf.byteOffset + a.argOff[i], a.argLen[i]).toString('latin1');
}

/** The request as RESP, with argument 1 replaced by `arg1` (when given). */
function encode(a: Args, arg1: string | null): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${a.argc}\r\n`)];
  for (let i = 0; i < a.argc; i++) {
    const b = i === 1 && arg1 !== null ? Buffer.from(arg1) : Buffer.from(a.argBuf.subarray(a.argOff[i], a.argOff[i] + a.argLen[i]));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function send(t: Target, req: Request, bytes: Buffer): void {
  if (t.server === null) return failRequest(req, F_PEER_DOWN, PEER_DOWN);
  t.server.send(req, bytes, 0, bytes.length);
}

/** Serve a keyspace command; `msgId` frames the answer for a peer (0 for a client). */
export function keyspaceCommand(h: KeyspaceHost, spec: CommandSpec, a: Args, forPeer: boolean, msgId: number, answer: (reply: Uint8Array) => void): void {
  const cfg = h.pool.config;
  // A Dynomite node's parser has none of these: it would close the link.
  if (!forPeer && h.pool.cluster !== null && h.pool.cluster.current().hasDynomite) return answer(DYNOMITE_PEERS);
  switch (spec.name) {
    case 'scan':
      return scan(h, a, forPeer, msgId, answer);
    case 'dbsize':
      return fanOut(h, targets(h, forPeer, false), encode(a, null), new SumMerge(), msgId);
    case 'keys':
      if (!cfg.allowKeys) return answer(KEYS_OFF);
      return fanOut(h, targets(h, forPeer, false), encode(a, null), new KeysMerge(), msgId);
    case 'randomkey':
      if (!cfg.allowKeys) return answer(KEYS_OFF);
      return randomKey(h, targets(h, forPeer, false), encode(a, null), msgId);
    case 'flushall':
    case 'flushdb':
      if (!cfg.allowFlush) return answer(FLUSH_OFF);
      return fanOut(h, targets(h, forPeer, true), encode(a, null), new AllOkMerge(), msgId);
    case 'pubsub|channels':
    case 'pubsub|shardchannels':
      // Subscribers connect to any node of the datacenter (PUBLISH reaches them all): its nodes' datastores hold the channels.
      return fanOut(h, targets(h, forPeer, false, true), encode(a, null), new KeysMerge(true), msgId);
    case 'pubsub|numsub':
    case 'pubsub|shardnumsub':
      return numsub(h, a, spec.name === 'pubsub|shardnumsub' ? 2 : 0, forPeer ? [] : publishPeers(h), encode(a, null), msgId);
    case 'pubsub|numpat':
      return fanOut(h, targets(h, forPeer, false, true), encode(a, null), new MaxMerge(), msgId);
    default:
      return answer(R.refusedReply(spec));
  }
}

/** PUBSUB NUMPAT: every backend subscribes every pattern of its worker's clients, so the most any one holds. */
class MaxMerge implements Merge {
  private max = 0;
  private error: Buffer | null = null;
  part(_i: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (isError) {
      this.error ??= Buffer.from(buf.subarray(start, end));
      return;
    }
    const n = Number(Buffer.from(buf.subarray(start + 1, end - 2)).toString('latin1'));
    if (n > this.max) this.max = n;
  }
  finish(): Uint8Array {
    return this.error ?? R.intReply(this.max);
  }
}

function composite(h: KeyspaceHost, merge: Merge, pieces: number, msgId: number): Request {
  const parent = newComposite(h, merge, pieces, -1, monotonicMs());
  parent.msgId = msgId;
  return parent;
}

function fanOut(h: KeyspaceHost, ts: Target[], bytes: Buffer, merge: Merge, msgId: number): void {
  const parent = composite(h, merge, ts.length, msgId);
  for (let i = 0; i < ts.length; i++) send(ts[i], newPart(parent, i), bytes);
}

/**
 * SCAN cursor [MATCH p] [COUNT n] [TYPE t]: the proxy's cursor is inner * targets + index: which backend or node is being
 * scanned and that one's own cursor. A target's 0 moves on to the next target; past the last, the cursor is 0.
 */
function scan(h: KeyspaceHost, a: Args, forPeer: boolean, msgId: number, answer: (reply: Uint8Array) => void): void {
  const text = argText(a, 1);
  if (!/^\d{1,20}$/.test(text)) return answer(INVALID_CURSOR);
  const ts = targets(h, forPeer, false);
  const cursor = BigInt(text);
  const n = BigInt(ts.length);
  const index = Number(cursor % n);
  const inner = cursor / n;
  if (inner > 0xffffffffffffffffn) return answer(INVALID_CURSOR);
  const parent = composite(h, new ScanMerge(index, ts.length), 1, msgId);
  send(ts[index], newPart(parent, 0), encode(a, inner.toString()));
}

/** The one SCAN reply, its cursor re-encoded as the proxy's. */
class ScanMerge implements Merge {
  private reply: Uint8Array = INVALID_CURSOR;
  private readonly index: number;
  private readonly count: number;

  constructor(index: number, count: number) {
    this.index = index;
    this.count = count;
  }

  part(_i: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    const b = Buffer.from(buf.subarray(start, end));
    this.reply = b;
    if (isError) return;
    const el = new Int32Array(3);
    if (arrayElementBounds(b, 0, b.length, el) !== 2 || b[el[0]] !== 0x24) {
      this.reply = R.errReply('ERR dynoproxy: a backend answered SCAN with an unexpected reply');
      return;
    }
    const lenEnd = b.indexOf(13, el[0]);
    const inner = BigInt(b.subarray(lenEnd + 2, el[1] - 2).toString('latin1'));
    const n = BigInt(this.count);
    let next: bigint;
    if (inner !== 0n) next = inner * n + BigInt(this.index);
    else next = this.index + 1 < this.count ? BigInt(this.index + 1) : 0n;
    const c = next.toString();
    this.reply = Buffer.concat([Buffer.from(`*2\r\n$${c.length}\r\n${c}\r\n`), b.subarray(el[1], el[2])]);
  }

  finish(): Uint8Array {
    return this.reply;
  }
}

/** KEYS: every target's array, concatenated (the first error wins); `unique`: each element once (PUBSUB CHANNELS). */
class KeysMerge implements Merge {
  private readonly parts: Buffer[] = [];
  private error: Buffer | null = null;
  private readonly unique: boolean;

  constructor(unique = false) {
    this.unique = unique;
  }

  part(_i: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    const b = Buffer.from(buf.subarray(start, end));
    if (isError) this.error ??= b;
    else this.parts.push(b);
  }

  finish(): Uint8Array {
    if (this.error !== null) return this.error;
    let count = 0;
    const bodies: Buffer[] = [];
    const seen = new Set<string>();
    for (const b of this.parts) {
      const out = new Int32Array(((b.length) >> 2) + 2);
      const n = arrayElementBounds(b, 0, b.length, out);
      if (n < 0) return R.errReply('ERR dynoproxy: a backend answered KEYS with a non-array reply');
      if (!this.unique) {
        count += n;
        bodies.push(b.subarray(out[0], out[n]));
        continue;
      }
      for (let i = 0; i < n; i++) {
        const el = b.toString('latin1', out[i], out[i + 1]);
        if (seen.has(el)) continue;
        seen.add(el);
        count++;
        bodies.push(b.subarray(out[i], out[i + 1]));
      }
    }
    return Buffer.concat([Buffer.from(`*${count}\r\n`), ...bodies]);
  }
}

/** RANDOMKEY: a random target first; a nil (an empty backend or node) tries the next, until one has a key or all were asked. */
function randomKey(h: KeyspaceHost, ts: Target[], bytes: Buffer, msgId: number): void {
  const first = Math.floor(Math.random() * ts.length);
  const parent = composite(h, new RandomKeyMerge(), ts.length, msgId);
  // All asked at once (cheap), the first non-nil in random order wins: no second round trip.
  for (let i = 0; i < ts.length; i++) send(ts[(first + i) % ts.length], newPart(parent, i), bytes);
}

class RandomKeyMerge implements Merge {
  private readonly replies: (Buffer | null)[] = [];
  part(i: number, buf: Uint8Array, start: number, end: number): void {
    this.replies[i] = Buffer.from(buf.subarray(start, end));
  }
  finish(): Uint8Array {
    for (const r of this.replies) if (r !== undefined && r !== null && r[0] === 0x24 && r[1] !== 0x2d) return r;
    for (const r of this.replies) if (r !== undefined && r !== null && r[0] === 0x2d) return r;
    return Buffer.from('$-1\r\n');
  }
}
