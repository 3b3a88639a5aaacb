// Join: a new node (join: true) listens to gossip first (a restarted member is not new), then announces itself JOINING, waits until its
// peers have seen that (they then route nothing to it; memcached pools send it every write of its future range as a shadow, redis ones
// leave it to the copy's mirror), copies its range from the nodes of its rack that own it now, and turns NORMAL; the old owners keep
// getting the moved ranges' writes for handoff_grace.
// Never serves a range before it is copied, and never copies over a key a write put here first (RESTORE without REPLACE, memcached's
// ms in add mode; warm-up.ts); redis: a key written at the old owner meanwhile is read again there and written here with its value
// (mirror.ts), until every peer routes here; memcached: that write reached this node as a shadow already.
import { NODE_STATE, hashRangesIn, intersectHashRanges, hashRangesOf, type ClusterView } from '../topology/index.ts';
import { encodeHostField, type Membership } from './membership.ts';
import type { GossipNodeRecord } from '../protocol/dnode/index.ts';

export interface JoinDeps {
  membership: Membership;
  view(): ClusterView;
  /** Republish the table (this node's state changed). */
  publish(): void;
  /** Gossip this node's records to every dynoproxy peer now. */
  broadcast(): void;
  /** The peers the join must reach before it copies (every node gossip knows that is up, Dynomite ones aside), by index. */
  peers(): number[];
  /** The node is up per the failure detector (a source must be). */
  isUp(node: number): boolean;
  /** Copy `mine` from `sources` (warm-up.ts joinCopy: redis and memcached); null when this datastore cannot be copied (the range starts empty). */
  copy: ((sources: number[], mine: number[]) => Promise<boolean>) | null;
  /**
   * This node gets every write of its future range as a shadow while it joins (memcached; cluster-replicate.ts): a failed copy is tried
   * again over what is here (add mode keeps those writes) instead of purging the range first.
   */
  shadowed: boolean;
  /** This node serves the range from now on: the copy's mirrors read a key again only once it was quiet (mirror.ts setLag). */
  flipCopy(): void;
  /** The copy's mirrors (mirror.ts) end: every peer routes the range here now. */
  endCopy(): Promise<void>;
  /** Warm-up stays away while the join copies (this node's datastore is empty on purpose). */
  hold(moving: boolean): void;
  /**
   * A replacement (this node's tokens belong to another address in its rack, a dead node): warm up from the other racks instead of
   * joining (warm-up.ts start: reads go elsewhere until the copy is done). 200 when it started.
   */
  warmUp(): { status: number; message: string };
  /** This node's tokens moved: writes of the moved ranges go to both sides for handoff_grace. */
  settle(node: number): void;
  /** Delete this node's own keys of these ranges (cleanup.ts purge); resolves with how many. */
  purge(ranges: readonly number[]): Promise<number>;
  /** This node serves its range now (a member already, or its join's copy is done): a ring move's record says so (move.ts). */
  served(): void;
  intervalMs: number;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

export type JoinPhase = 'listening' | 'announcing' | 'copying' | 'done' | 'member' | 'replacing';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class Join {
  phase: JoinPhase = 'listening';
  private readonly d: JoinDeps;
  /** By peer index: the state it gave this node in its last gossip reply (-1: it does not list us). */
  private readonly seenAs = new Map<number, number>();
  /** The first reply's record of us (decides whether this node is new); undefined until one came. */
  private first: { state: number; tokens: string[] } | null | undefined = undefined;
  /** An address the first reply lists with one of this node's tokens in its rack: the node it replaces, or null. */
  private replaces: string | null = null;
  private stopped = false;

  constructor(deps: JoinDeps) {
    this.d = deps;
  }

  /** Gossip's report of how a peer sees this node (cluster-worker.ts wires it to Gossip's `heard`). */
  heard(node: number, us: { state: number; tokens: string[] } | null, records: readonly GossipNodeRecord[] = []): void {
    if (this.first === undefined) {
      this.first = us;
      const me = this.d.membership.local;
      const other = records.find((r) => r.dc === me.dc && r.rack === me.rack && me.tokens.includes(r.token) && r.host !== encodeHostField(me.host, me.peerPort, me.clientPort));
      this.replaces = other?.host ?? null;
    }
    this.seenAs.set(node, us === null ? -1 : us.state);
  }

  stop(): void {
    this.stopped = true;
  }

  private async until(cond: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (this.stopped || Date.now() >= end) return false;
      await sleep(Math.min(100, this.d.intervalMs));
    }
    return true;
  }

  async run(): Promise<void> {
    const d = this.d;
    const m = d.membership;
    const me = m.local;
    d.hold(true);
    // 1. Listen: the first peer to answer tells whether it knows this node already (a member restarted with join: true left on).
    await this.until(() => this.first !== undefined, Math.max(15_000, 20 * d.intervalMs));
    const known = this.first;
    if (known != null && known.state !== NODE_STATE.JOINING && known.state !== NODE_STATE.LEFT && known.tokens.length === me.tokens.length && known.tokens.every((t) => me.tokens.includes(t))) {
      this.phase = 'member';
      m.silent = false;
      m.setLocalState(NODE_STATE.NORMAL, Date.now());
      d.publish();
      d.broadcast();
      d.hold(false);
      d.log('info', 'join: this node is already a member (its peers list it with these tokens); serving at once', { state: known.state });
      d.served();
      return;
    }
    // A replacement of a dead node (its tokens, another address): this node serves the range at once as far as routing goes, and warms
    // up from the other racks first (reads go to them meanwhile, as for any warming node); peers hand the tokens over when they see
    // that the old owner is down (membership.ts), and refuse them while it is alive.
    if (this.replaces !== null) {
      this.phase = 'replacing';
      // In its own ring first (still silent), so that the warm-up copies this node's range; warming keeps its reads elsewhere.
      m.local.state = NODE_STATE.NORMAL;
      d.publish();
      for (let attempt = 1; !this.stopped; attempt++) {
        const w = d.warmUp();
        if (w.status === 200) break;
        if (attempt === 1 || attempt % 10 === 0) d.log('warn', 'replace: no other rack to warm up from yet; trying again', { attempt, why: w.message });
        if (attempt >= 30) break;
        await sleep(1000);
      }
      m.silent = false;
      m.setLocalState(NODE_STATE.NORMAL, Date.now());
      d.publish();
      d.broadcast();
      d.hold(false);
      d.log('info', 'replace: this node takes over the tokens of a node that is down; it warms up from the other racks', { replaces: this.replaces });
      return;
    }
    await this.enter();
  }

  /**
   * A node that left the ring comes back with other tokens (a ring move, move.ts): the caller made it JOINING with them in its own
   * table (silent); steps 2 to 5 of a join follow. True once it serves its new range.
   */
  async rejoin(): Promise<boolean> {
    this.d.hold(true);
    await this.enter();
    return this.phase === 'done';
  }

  /** Steps 2 to 5: purge the future range, announce JOINING, copy, serve. */
  private async enter(): Promise<void> {
    const d = this.d;
    const m = d.membership;
    // 2. What this datastore still holds of its future range is stale (a node that left and comes back, a reused datastore): it goes
    // before any write of the range can reach it, so the copy's never-replacing RESTORE cannot keep an old value.
    {
      const v = d.view();
      const rack = v.racks[v.localRack];
      const future = hashRangesIn(rack.shadow ?? rack.ring, v.localNode);
      const stale = await d.purge(future).catch((err: unknown) => {
        d.log('warn', 'join: could not clear stale keys of the future range', { error: err instanceof Error ? err.message : String(err) });
        return 0;
      });
      if (stale > 0) d.log('info', 'join: deleted stale keys of the future range (held from an earlier membership)', { keys: stale });
    }
    // 3. Announce, and wait until every peer has seen it: from then on all of this node's future range's writes reach it too.
    this.phase = 'announcing';
    m.silent = false;
    m.setLocalState(NODE_STATE.JOINING, Date.now());
    d.publish();
    d.broadcast();
    const acked = await this.until(() => d.peers().every((p) => this.seenAs.get(p) === NODE_STATE.JOINING), Math.max(10_000, 20 * d.intervalMs));
    if (this.stopped) return;
    if (!acked) d.log('warn', 'join: not every peer confirmed the join in time; copying anyway (writes reach the old owners, which shadow them)', { waiting: d.peers().filter((p) => this.seenAs.get(p) !== NODE_STATE.JOINING) });
    // A moment more: requests routed before a peer saw the join are answered by now.
    await sleep(2 * d.intervalMs);
    // 4. Copy this node's future range from the nodes of its rack that own it now.
    this.phase = 'copying';
    for (let attempt = 1; !this.stopped; attempt++) {
      const v = d.view();
      const rack = v.racks[v.localRack];
      const mine = hashRangesIn(rack.shadow ?? rack.ring, v.localNode);
      const sources = rack.nodes.filter((n) => n !== v.localNode && intersectHashRanges(mine, hashRangesOf(v, v.localRack, n)).length > 0);
      const started = Date.now();
      if (sources.length > 0 && d.copy === null) {
        d.log('warn', 'join: this datastore cannot be copied: the range starts empty here', {});
        break;
      }
      if (sources.length === 0 || (sources.every((n) => d.isUp(n)) && (await (d.copy as NonNullable<JoinDeps['copy']>)(sources, mine)))) {
        d.log('info', 'join: range copied', { sources: sources.map((n) => v.nodes[n].name), seconds: (Date.now() - started) / 1000 });
        break;
      }
      d.log('warn', 'join: copy failed or a source is down; trying again', { attempt, sources: sources.map((n) => v.nodes[n].name) });
      await sleep(Math.min(30_000, 1000 * attempt));
      // What the failed copy left here may miss a delete made meanwhile (its mirror stopped): the range starts empty again. Nothing
      // else writes it here while this node joins (the receiving side gets no shadow writes; cluster-replicate.ts). memcached's does:
      // what is here stays, the next copy adds around it.
      if (!d.shadowed) await d.purge(mine).catch(() => 0);
    }
    if (this.stopped) return;
    // 5. Serve: NORMAL everywhere within a gossip round or two; the old owners keep getting the moved writes for the grace.
    d.flipCopy();
    d.settle(d.view().localNode);
    m.setLocalState(NODE_STATE.NORMAL, Date.now());
    d.publish();
    d.broadcast();
    d.hold(false);
    this.phase = 'done';
    d.served();
    d.log('info', 'join: done, this node serves its range', {});
    // Until every peer routes the range here, a write may still reach only the old owner: the copy's mirrors keep reading such keys
    // there and writing them here (an INCR there is then not lost here).
    await this.until(() => d.peers().every((p) => this.seenAs.get(p) === NODE_STATE.NORMAL), Math.max(10_000, 20 * d.intervalMs));
    await sleep(2 * d.intervalMs);
    await d.endCopy();
  }
}
