// Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN/MAX, BLMPOP, BZMPOP, XREAD/XREADGROUP BLOCK): each call gets a backend
// connection of its own (BackendServer's blocking connection, bounded by max_blocking_connections) and gives it back when it answers.
// On a cluster node the keys' owner in this rack serves the call; what a pop removed is then replicated as its non-blocking effect
// (LPOP key, ZREM key member ...) — never the blocking command itself, which would block on every replica.
import { type CommandSpec } from '../../commands/index.ts';
import { newComposite, newPart, monotonicMs, type Merge, type BackendServer } from '../../io/index.ts';
import { arrayElementBounds } from '../../protocol/resp/index.ts';
import { P } from '../../stats/index.ts';
import type { ClusterView } from '../../topology/index.ts';
import { scratch, type Args } from '../routing/scratch.ts';
import { colocated, KeyRoute, REPLICATE, type ClusterWords } from '../routing/cluster-walk.ts';
import { failUnroutable } from '../routing/cluster-words.ts';
import type { ClusterRuntime, RespClientLike } from '../routing/cluster-runtime.ts';
import * as R from './resp-replies.ts';
import { respCommand } from './push-reader.ts';

export function blockingFull(max: number): Buffer {
  return R.errReply(`ERR dynoproxy: ${max} blocking calls already wait on this datastore (max_blocking_connections); try again later`);
}
export const XREADGROUP_BLOCK_CLUSTER = R.errReply(
  'ERR dynoproxy: XREADGROUP with BLOCK is not supported on a cluster node: the other racks cannot follow what a blocking group read delivered; use XREADGROUP without BLOCK',
);

/** Whether another blocking call may start on `server` (max_blocking_connections, per worker and server). */
export function blockingRoom(server: BackendServer, max: number): boolean {
  return server.pinnedCount < max;
}

/**
 * A blocking call on a cluster node: its keys must share one owner in this rack, which serves it on a connection of its own (this
 * node's datastore, or a dedicated link connection to the owning peer, whose peer server does the same). Returns false when the
 * keys have several owners (the caller answers with the same-node error).
 */
export function clusterBlocking(
  c: RespClientLike, cl: ClusterRuntime, view: ClusterView, spec: CommandSpec, a: Args, n: number, h: Float64Array,
  bytes: Uint8Array, start: number, end: number, blockMs: number, words: ClusterWords,
): boolean {
  // BLMOVE / BRPOPLPUSH are replicated as LMOVE / RPOPLPUSH: source and destination must share their owner in every rack.
  const moves = spec.name === 'blmove' || spec.name === 'brpoplpush';
  if (!colocated(view, moves ? view.allRacksByDc : view.localRacks, h, n)) return false;
  if (spec.name === 'xreadgroup') {
    c.replyLocal(XREADGROUP_BLOCK_CLUSTER);
    return true;
  }
  const k = scratch.keyIdx[0];
  const node = view.ownerInRack(view.localRacks[0], h[0]);
  const server = cl.upstream(node, a.argBuf, a.argOff[k], a.argOff[k] + a.argLen[k]);
  const max = cl.maxBlocking();
  if (server !== null && !blockingRoom(server, max)) {
    c.replyLocal(blockingFull(max));
    return true;
  }
  cl.st[P.blocking_calls_total]++;
  // XREAD BLOCK is a read: nothing to replicate.
  const merge: Merge = spec.name === 'xread' ? new PassThrough() : new PopEffect(cl, spec.name, a);
  const parent = newComposite(c, merge, 1, -1, monotonicMs());
  const part = newPart(parent, 0);
  part.blockMs = blockMs;
  if (server === null) return (failUnroutable(cl, node, part, words), true);
  server.send(part, bytes, start, end);
  // The client's record of the call's connection: closed if the client leaves while it blocks (client-connection.ts).
  parent.pin = part.pin;
  parent.blockMs = blockMs;
  return true;
}

/** The one reply, passed on as it is. */
class PassThrough implements Merge {
  private reply: Uint8Array = R.NO_BACKEND;
  part(_i: number, buf: Uint8Array, start: number, end: number): void {
    this.reply = Buffer.from(buf.subarray(start, end));
  }
  finish(): Uint8Array {
    return this.reply;
  }
}

/** The content of the bulk string starting at buf[s] ($len\r\n...\r\n), or null (nil, another type). */
function bulk(buf: Uint8Array, s: number): Buffer | null {
  if (buf[s] !== 0x24) return null;
  let i = s + 1;
  let len = 0;
  if (buf[i] === 0x2d) return null;
  while (buf[i] !== 0x0d) len = len * 10 + (buf[i++] - 0x30);
  return Buffer.from(buf.subarray(i + 2, i + 2 + len));
}

/** Elements of the array at buf[s, e) (their bounds), or null. */
function elements(buf: Uint8Array, s: number, e: number): Int32Array | null {
  // An element takes at least 3 bytes (`:1\r\n` ...): room for all of them.
  const out = new Int32Array(((e - s) >> 2) + 2);
  const n = arrayElementBounds(buf, s, e, out);
  return n < 0 ? null : out.subarray(0, n + 1);
}

/** A pop's effect as a command for the other replicas, and the key its owners are found by. */
export interface Effect {
  bytes: Buffer;
  key: Buffer;
}

/**
 * What a blocking pop removed, as the non-blocking command the other replicas run (fire-and-forget, like every replica write):
 * BLPOP/BRPOP -> LPOP/RPOP key; BLMOVE/BRPOPLPUSH -> LMOVE/RPOPLPUSH with the same keys; BZPOPMIN/MAX -> ZREM key member;
 * BLMPOP -> LMPOP 1 key LEFT|RIGHT COUNT n; BZMPOP -> ZREM key members. A nil reply (timed out) removed nothing.
 */
export function popEffect(name: string, argv: Buffer[], buf: Uint8Array, start: number, end: number): Effect | null {
  const arr = buf[start] === 0x2a ? elements(buf, start, end) : null;
  switch (name) {
    case 'blpop':
    case 'brpop': {
      if (arr === null || arr.length !== 3) return null;
      const key = bulk(buf, arr[0]);
      return key === null ? null : { bytes: respCommand([name === 'blpop' ? 'LPOP' : 'RPOP', key]), key };
    }
    case 'brpoplpush':
      return bulk(buf, start) === null ? null : { bytes: respCommand(['RPOPLPUSH', argv[1], argv[2]]), key: argv[1] };
    case 'blmove':
      return bulk(buf, start) === null ? null : { bytes: respCommand(['LMOVE', argv[1], argv[2], argv[3], argv[4]]), key: argv[1] };
    case 'bzpopmin':
    case 'bzpopmax': {
      if (arr === null || arr.length !== 4) return null;
      const key = bulk(buf, arr[0]);
      const member = bulk(buf, arr[1]);
      return key === null || member === null ? null : { bytes: respCommand(['ZREM', key, member]), key };
    }
    case 'blmpop':
    case 'bzmpop': {
      if (arr === null || arr.length !== 3) return null;
      const key = bulk(buf, arr[0]);
      const items = elements(buf, arr[1], arr[2]);
      if (key === null || items === null) return null;
      const n = items.length - 1;
      if (name === 'blmpop') {
        const numkeys = Number(argv[2]?.toString('latin1'));
        const where = argv[3 + numkeys]?.toString('latin1').toUpperCase() === 'RIGHT' ? 'RIGHT' : 'LEFT';
        return { bytes: respCommand(['LMPOP', '1', key, where, 'COUNT', String(n)]), key };
      }
      const members: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const pair = elements(buf, items[i], items[i + 1]);
        const m = pair === null ? null : bulk(buf, pair[0]);
        if (m === null) return null;
        members.push(m);
      }
      return members.length === 0 ? null : { bytes: respCommand(['ZREM', key, ...members]), key };
    }
    default:
      return null;
  }
}

const effectRoute = new KeyRoute();

/** The call's reply to the client as it is; a pop that removed something is replicated as its effect. */
class PopEffect implements Merge {
  /** The effect is replicated even when the client left right after the call answered. */
  readonly hasSideEffects = true;
  private reply: Uint8Array = R.NO_BACKEND;
  private readonly cl: ClusterRuntime;
  private readonly name: string;
  private readonly argv: Buffer[];

  constructor(cl: ClusterRuntime, name: string, a: Args) {
    this.cl = cl;
    this.name = name;
    this.argv = [];
    for (let i = 0; i < a.argc; i++) this.argv.push(Buffer.from(a.argBuf.subarray(a.argOff[i], a.argOff[i] + a.argLen[i])));
  }

  part(_index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    this.reply = Buffer.from(buf.subarray(start, end));
    if (isError) return;
    const effect = popEffect(this.name, this.argv, buf, start, end);
    if (effect === null) return;
    const cl = this.cl;
    const k = effect.key;
    const r = effectRoute.key(k, 0, k.length, cl.keyHash(k, 0, k.length)).payload(effect.bytes, 0, effect.bytes.length, true, 0, 0, -1);
    REPLICATE.all(cl, r, false);
  }

  finish(): Uint8Array {
    return this.reply;
  }
}
