// Pub/sub through the proxy (issue "command surface" part 2): SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE and their UNSUBSCRIBEs through the
// worker's PubSubHub (one datastore connection per server for all subscribers), PUBLISH / SPUBLISH to the channel's datastore — on a
// cluster node to every node of the datacenter (`pubsub_scope: cluster`: every datacenter), so subscribers of any node hear it.
// Never lets a subscribed connection run other commands (Redis' rule), and never lets a slow subscriber grow without bound.
import type { CommandSpec } from '../../commands/index.ts';
import { acquireRequest, completeLocally, failRequest, newComposite, newPart, monotonicMs, K_CLIENT, type BackendServer } from '../../io/index.ts';
import { F_PEER_DOWN } from '../../protocol/failure/index.ts';
import { P } from '../../stats/index.ts';
import { SumMerge } from '../routing/merge.ts';
import type { Args } from '../routing/scratch.ts';
import type { PoolContext } from '../pool-context.ts';
import { K_CHANNEL, K_PATTERN, K_SHARD, ClientSubs, type PubSubHub, type Subscriber } from './pubsub-hub.ts';

export { ClientSubs };
import type { RespSession } from './resp-session.ts';
import * as R from './resp-replies.ts';

/** Redis' default hard limit of a pub/sub client's output buffer: past it the subscriber is disconnected. */
export const PUBSUB_MAX_BUFFERED = 32 * 1024 * 1024;

const KIND_OF: Record<string, number> = {
  subscribe: K_CHANNEL, psubscribe: K_PATTERN, ssubscribe: K_SHARD, unsubscribe: K_CHANNEL, punsubscribe: K_PATTERN, sunsubscribe: K_SHARD,
};
const CONFIRM = ['subscribe', 'psubscribe', 'ssubscribe'];
const UNCONFIRM = ['unsubscribe', 'punsubscribe', 'sunsubscribe'];
const ALLOWED = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);

/** What pub/sub needs of a client connection. */
export interface PubSubSession extends RespSession, Subscriber {
  subs: ClientSubs | null;
}

function text(a: Args, i: number): string {
  return Buffer.from(a.argBuf.buffer, a.argBuf.byteOffset + a.argOff[i], a.argLen[i]).toString('latin1');
}

function confirmation(kind: string, name: string | null, count: number, resp3: boolean): Buffer {
  const n = name === null ? (resp3 ? '_\r\n' : '$-1\r\n') : `$${Buffer.byteLength(name, 'latin1')}\r\n${name}\r\n`;
  // RESP3: a push (>), as Redis sends (un)subscription confirmations.
  return Buffer.concat([Buffer.from(`${resp3 ? '>' : '*'}3\r\n$${kind.length}\r\n${kind}\r\n`), Buffer.from(n, 'latin1'), Buffer.from(`:${count}\r\n`)]);
}

function hubOf(pool: PoolContext): PubSubHub {
  return pool.pubsub();
}

/** The datastore servers a name lives on: a channel's (hashed like a key), or every server for a pattern. */
function serversFor(pool: PoolContext, kind: number, name: string): readonly BackendServer[] {
  if (kind === K_PATTERN) return pool.servers;
  const b = Buffer.from(name, 'latin1');
  const s = pool.router.serverFor(b, 0, b.length);
  return s === null ? [] : [s];
}

/** Whether a subscribed client may run this command (Redis: only the (un)subscribe family, PING, QUIT, RESET). */
export function subscribedRefusal(c: PubSubSession, spec: CommandSpec): Buffer | null {
  // RESP3 connections may run any command while subscribed (messages come as push replies).
  if (c.resp3 || c.subs === null || !c.subs.active || ALLOWED.has(spec.name)) return null;
  return R.errReply(`ERR Can't execute '${spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
}

/** PING while subscribed: Redis' push-shaped pong. */
export function subscribedPing(c: PubSubSession): boolean {
  if (c.resp3 || c.subs === null || !c.subs.active) return false;
  const arg = c.parser.argc > 1 ? text(c.parser, 1) : '';
  c.replyLocal(Buffer.concat([Buffer.from('*2\r\n$4\r\npong\r\n'), Buffer.from(`$${Buffer.byteLength(arg, 'latin1')}\r\n${arg}\r\n`, 'latin1')]));
  return true;
}

/** SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE name [name ...]: one confirmation per name, each once the datastore confirmed it. */
function subscribe(c: PubSubSession, kind: number): void {
  const a = c.parser;
  c.subs ??= new ClientSubs();
  const subs = c.subs;
  for (let i = 1; i < a.argc; i++) {
    const name = text(a, i);
    const fresh = !subs.names[kind].has(name);
    subs.names[kind].add(name);
    const req = acquireRequest(K_CLIENT);
    req.startedAt = monotonicMs();
    c.enqueue(req);
    const reply = confirmation(CONFIRM[kind], name, kind === K_SHARD ? subs.names[K_SHARD].size : subs.count, c.resp3);
    if (!fresh) {
      completeLocally(req, reply);
      continue;
    }
    const servers = serversFor(c.pool, kind, name);
    if (servers.length === 0) {
      subs.names[kind].delete(name);
      completeLocally(req, c.pool.noBackendReply());
      continue;
    }
    c.pool.st[P.pubsub_subscriptions_total]++;
    let waiting = servers.length;
    let failed = false;
    const done = (ok: boolean): void => {
      if (!ok) failed = true;
      if (--waiting > 0) return;
      if (failed) failRequest(req, F_PEER_DOWN, R.storageErrorReply('the subscription connection to the datastore failed'));
      else completeLocally(req, reply);
    };
    for (const s of servers) hubOf(c.pool).link(s).subscribe(kind, name, c, done);
  }
}

/** UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE [name ...] (none: all of that kind). */
function unsubscribe(c: PubSubSession, kind: number): void {
  const a = c.parser;
  const subs = c.subs ?? new ClientSubs();
  const names = a.argc > 1 ? Array.from({ length: a.argc - 1 }, (_v, i) => text(a, i + 1)) : [...subs.names[kind]];
  if (names.length === 0) return c.replyLocal(confirmation(UNCONFIRM[kind], null, kind === K_SHARD ? subs.names[K_SHARD].size : subs.count, c.resp3));
  for (const name of names) {
    if (subs.names[kind].delete(name)) for (const s of serversFor(c.pool, kind, name)) hubOf(c.pool).link(s).unsubscribe(kind, name, c);
    c.replyLocal(confirmation(UNCONFIRM[kind], name, kind === K_SHARD ? subs.names[K_SHARD].size : subs.count, c.resp3));
  }
}

/** Every subscription of a client that leaves or RESETs. */
export function unsubscribeAll(c: { pool: PoolContext; subs: ClientSubs | null } & Subscriber): void {
  const subs = c.subs;
  if (subs === null) return;
  c.subs = null;
  for (let kind = 0; kind < 3; kind++) {
    for (const name of subs.names[kind]) for (const s of serversFor(c.pool, kind, name)) hubOf(c.pool).link(s).unsubscribe(kind, name, c);
  }
}

/**
 * PUBLISH / SPUBLISH channel message: to the channel's datastore; on a cluster node to that of every node of the datacenter (or of
 * the cluster with `pubsub_scope: cluster`), receivers summed.
 */
function publish(c: PubSubSession, buf: Uint8Array, start: number, end: number): void {
  const pool = c.pool;
  if (c.parser.inline) {
    // Peers and backends get RESP arrays.
    const a = c.parser;
    buf = Buffer.concat([Buffer.from(`*${a.argc}\r\n`), ...Array.from({ length: a.argc }, (_v, i) => Buffer.concat([Buffer.from(`$${a.argLen[i]}\r\n`), Buffer.from(a.argBuf.subarray(a.argOff[i], a.argOff[i] + a.argLen[i])), Buffer.from('\r\n')]))]);
    start = 0;
    end = buf.length;
  }
  const ch = Buffer.from(c.parser.argBuf.subarray(c.parser.argOff[1], c.parser.argOff[1] + c.parser.argLen[1]));
  const local = pool.router.serverFor(ch, 0, ch.length);
  const cl = pool.cluster;
  if (cl === null) {
    const req = acquireRequest(K_CLIENT);
    req.startedAt = monotonicMs();
    c.enqueue(req);
    if (local === null) return completeLocally(req, pool.noBackendReply());
    return local.send(req, buf, start, end);
  }
  const view = cl.current();
  const racks = pool.config.pubsubScope === 'cluster' ? Array.from(view.allRacksByDc) : Array.from(view.localRacks);
  const nodes: number[] = [];
  for (const r of racks) nodes.push(...view.racks[r].nodes);
  const parent = newComposite(c, new SumMerge(), nodes.length, -1, monotonicMs());
  for (let i = 0; i < nodes.length; i++) {
    const part = newPart(parent, i);
    const server = view.nodes[nodes[i]].local ? local : cl.isDown(nodes[i]) ? null : (cl.links[nodes[i]] ?? null);
    if (server === null) failRequest(part, F_PEER_DOWN, R.errReply('ERR Peer: Peer Node is not connected'));
    else server.send(part, buf, start, end);
  }
}

/** A pub/sub command from a client (route 'pubsub'). */
export function pubsubCommand(c: PubSubSession, spec: CommandSpec, buf: Uint8Array, start: number, end: number): void {
  if (c.tx !== null) return c.replyLocal(R.txBroadcast(spec));
  switch (spec.name) {
    case 'subscribe':
    case 'psubscribe':
    case 'ssubscribe':
      return subscribe(c, KIND_OF[spec.name]);
    case 'unsubscribe':
    case 'punsubscribe':
    case 'sunsubscribe':
      return unsubscribe(c, KIND_OF[spec.name]);
    case 'publish':
    case 'spublish':
      return publish(c, buf, start, end);
    default:
      return c.replyLocal(R.refusedReply(spec));
  }
}
