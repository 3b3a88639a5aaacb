// Gossip rounds of the cluster worker: every interval this node sends its membership records to one random live peer (and to a seed
// when that peer is none), as DYNOPROXY.GOSSIP over the authenticated peer link, and merges the peer's records from the reply.
// Never gossips to a Dynomite node (its gossip is another dialect, and unreliable); never blocks: replies arrive on the link like any reply.
import { encodeGossipNodes, parseGossipNodes, type GossipNodeRecord } from '../protocol/dnode/index.ts';
import { encodeGossipRequest, gossipReplyRecords, HELLO_REQUEST, isHelloReply, unwrapMemcacheResp } from '../protocol/resp/index.ts';
import { F_NONE } from '../protocol/failure/index.ts';
import { acquireRequest, K_CLIENT, type BackendServer, type ClientSession, type Request } from '../io/index.ts';
import { parseHostField, type Membership, type MergeResult } from './membership.ts';

export interface GossipDeps {
  membership: Membership;
  /** By node index: its link (null: this node, or none). */
  links: readonly (BackendServer | null)[];
  /** How many of the first slots came from dyn_seeds (node 0 is this node): seeds are gossiped with even when other peers answer. */
  seeds: number;
  /** The failure detector does not think the node down. */
  alive(index: number): boolean;
  /** Records merged (from a reply, or from a peer's request handed over by a data worker). */
  merged(result: MergeResult, from: string): void;
  random?: () => number;
  /** A memcached pool: replies come wrapped as one memcached value (wrapMemcacheResp). */
  memcache?: boolean;
  /** A peer's reply told how it sees this node: its record of us (state, tokens), or null when it does not list us; and all its records. */
  heard?(node: number, us: { state: number; tokens: string[] } | null, records: readonly GossipNodeRecord[]): void;
}

export interface GossipCounters {
  rounds: number;
  sent: number;
  replies: number;
  failed: number;
  received: number;
  malformed: number;
}

/** A node that did not answer the hello as dynoproxy is asked again after this long (it may be starting, or be upgraded). */
const HELLO_RETRY_MS = 5000;

/** One call in flight per node and kind (hello, gossip); the reply goes to the Gossip that sent it. */
class Call implements ClientSession {
  readonly node: number;
  readonly hello: boolean;
  inFlight = false;
  closed = false;
  /** Its link was replaced (Gossip.forget): a late answer is dropped. */
  stale = false;
  private readonly owner: Gossip;
  constructor(owner: Gossip, node: number, hello: boolean) {
    this.owner = owner;
    this.node = node;
    this.hello = hello;
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    this.inFlight = false;
    if (this.stale) return;
    const ok = req.failure === F_NONE;
    // A memcached pool's reply: the RESP reply inside (an answer that is not wrapped is not ours).
    const inner = ok && this.owner.memcache ? unwrapMemcacheResp(buf, start, end) : [start, end];
    if (this.hello) {
      if (ok && inner !== null && isHelloReply(buf, inner[0], inner[1])) this.owner.confirmed(this.node);
      // No answer at all (the node is starting, or down): ask again next round; only an answer that is not ours waits longer.
      else if (!ok) this.owner.helloFailed(this.node);
    } else this.owner.reply(this.node, ok && inner !== null ? gossipReplyRecords(buf, inner[0], inner[1]) : null, buf);
  }
  requestFinished(): void {
    this.inFlight = false;
  }
}

export class Gossip {
  readonly counters: GossipCounters = { rounds: 0, sent: 0, replies: 0, failed: 0, received: 0, malformed: 0 };
  private readonly d: GossipDeps;
  private readonly calls: Call[] = [];
  private readonly hellos: Call[] = [];
  /** By node index: it answered the hello as dynoproxy (only such nodes get DYNOPROXY.GOSSIP); the link identity it was for. */
  private readonly dynoproxy: string[] = [];
  private readonly helloAt: number[] = [];
  private readonly random: () => number;

  readonly memcache: boolean;
  constructor(deps: GossipDeps) {
    this.d = deps;
    this.memcache = deps.memcache === true;
    this.random = deps.random ?? Math.random;
  }

  /** This node's records as gossip's payload (what a data worker answers a peer's DYNOPROXY.GOSSIP with). */
  payload(): Uint8Array {
    return encodeGossipNodes(this.d.membership.records());
  }

  /** One round: a new heartbeat, then the records to one live peer, and to one seed if that peer was not one. */
  round(now: number): void {
    const m = this.d.membership;
    m.beat(now);
    this.counters.rounds++;
    const peers: number[] = [];
    const seeds: number[] = [];
    for (const n of m.members) {
      if (n.local || n.removed || n.dynomite || this.d.links[n.index] == null) continue;
      if (!this.isDynoproxy(n.index)) {
        this.hello(n.index, now);
        continue;
      }
      if (this.d.alive(n.index)) peers.push(n.index);
      if (n.index <= this.d.seeds) seeds.push(n.index);
    }
    if (peers.length === 0 && seeds.length === 0) return;
    const bytes = encodeGossipRequest(this.payload());
    const first = peers.length > 0 ? peers[Math.floor(this.random() * peers.length)] : -1;
    if (first >= 0) this.send(first, bytes);
    // A seed too, when the peer picked is not one: views split by partial seed lists heal through the seeds.
    if (seeds.length > 0 && !seeds.includes(first)) this.send(seeds[Math.floor(this.random() * seeds.length)], bytes);
  }

  /** Send now to every live peer (a node that just started or changed its own state spreads it at once). */
  broadcast(): void {
    const bytes = encodeGossipRequest(this.payload());
    for (const n of this.d.membership.members) {
      if (!n.local && !n.removed && !n.dynomite && this.isDynoproxy(n.index)) this.send(n.index, bytes);
    }
  }

  private key(node: number): string {
    const m = this.d.membership.members[node];
    return m === undefined ? '' : `${m.host}:${m.peerPort}/${m.tokens[0] ?? ''}`;
  }

  private isDynoproxy(node: number): boolean {
    return this.dynoproxy[node] !== undefined && this.dynoproxy[node] === this.key(node);
  }

  /** Ask the node whether it runs dynoproxy (at most every HELLO_RETRY_MS while it has not said so). */
  private hello(node: number, now: number): void {
    const link = this.d.links[node];
    if (link == null || now - (this.helloAt[node] ?? -Infinity) < HELLO_RETRY_MS) return;
    const call = (this.hellos[node] ??= new Call(this, node, true));
    if (call.inFlight) return;
    this.helloAt[node] = now;
    call.inFlight = true;
    const req = acquireRequest(K_CLIENT);
    req.client = call;
    link.send(req, HELLO_REQUEST, 0, HELLO_REQUEST.length);
  }

  /**
   * A slot's link was replaced (its node's identity changed: tokens moved, a replacement): calls in flight on the closed link are never
   * answered, so they go (a call left in flight would keep this node from ever gossiping with that slot again).
   */
  forget(node: number): void {
    for (const calls of [this.calls, this.hellos]) {
      const c = calls[node];
      if (c === undefined) continue;
      c.stale = true;
      c.closed = true;
      delete calls[node];
    }
    this.helloAt[node] = -Infinity;
  }

  helloFailed(node: number): void {
    this.helloAt[node] = -Infinity;
  }

  /** The peers a state change must reach before it takes effect (join, leave): every node gossip knows that is up, Dynomite ones aside. */
  peersToTell(isUp: (node: number) => boolean): number[] {
    return this.d.membership.members.filter((n) => !n.local && !n.removed && !n.dynomite && this.d.links[n.index] != null && isUp(n.index)).map((n) => n.index);
  }

  /** The node answered the hello as dynoproxy: it gets our records at once. */
  confirmed(node: number): void {
    this.dynoproxy[node] = this.key(node);
    this.send(node, encodeGossipRequest(this.payload()));
  }

  private send(node: number, bytes: Buffer): void {
    const link = this.d.links[node];
    if (link == null) return;
    const call = (this.calls[node] ??= new Call(this, node, false));
    if (call.inFlight) return;
    call.inFlight = true;
    const req = acquireRequest(K_CLIENT);
    req.client = call;
    this.counters.sent++;
    link.send(req, bytes, 0, bytes.length);
  }

  /** A reply (records at [from, to) of buf), or null for a failed call or a reply that holds no records. */
  reply(node: number, records: [number, number] | null, buf: Uint8Array): void {
    if (records === null) {
      this.counters.failed++;
      return;
    }
    this.counters.replies++;
    this.receive(buf.subarray(records[0], records[1]), this.d.membership.members[node]?.host ?? '?', node);
  }

  /** Records a peer sent (a reply, or a request a data worker handed over): parsed, merged, reported. */
  receive(payload: Uint8Array, from: string, node = -1): MergeResult | null {
    this.counters.received++;
    const parsed = parseGossipNodes(payload);
    if (!parsed.ok) {
      this.counters.malformed++;
      const result: MergeResult = { changed: false, added: [], stale: 0, refused: [{ reason: 'malformed', address: from, detail: parsed.error }] };
      this.d.merged(result, from);
      return result;
    }
    const m = this.d.membership;
    if (node >= 0 && this.d.heard !== undefined) {
      const me = m.local;
      const mine = parsed.nodes.filter((r) => {
        const where = parseHostField(r.host, me.peerPort);
        return where !== null && where.host === me.host && where.peerPort === me.peerPort;
      });
      this.d.heard(node, mine.length === 0 ? null : { state: mine[0].state, tokens: mine.map((r) => r.token) }, parsed.nodes);
    }
    const result = m.merge(parsed.nodes, this.d.alive);
    this.d.merged(result, from);
    return result;
  }
}
