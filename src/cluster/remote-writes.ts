// The cluster worker's remote-DC writes: each record drained from a data worker's ring goes to its node's link, or becomes a hint
// for that node (down, frozen, link closed, timed out, "not stored") kept and replayed by the shared HintKeeper (hints/).
// Never allocates for a target without hints (one check), and never lets a new write to a target overtake its hints.
import { acquireRequest, retainBytes, K_REPLICA, RETRY_MAX_BYTES, type BackendServer } from '../io/index.ts';
import { F_PEER_DOWN } from '../protocol/failure/index.ts';
import { S, S_REPLICA_FAILURES } from '../stats/index.ts';
import { PEER_DATASTORE_DOWN, type PeerStates } from '../peer/index.ts';
import { HintKeeper, hintLimits, MEMCACHE_HINT_WORDS, RESP_HINT_WORDS, type HintQueue, type HintTargets } from '../hints/index.ts';
import type { PoolConfig } from '../config/index.ts';
import type { ClusterView } from '../topology/index.ts';
import type { HintsEvent } from '../messages.ts';

export class RemoteWrites implements HintTargets {
  forwarded = 0;
  /** Writes neither sent nor kept (hints off, or a bound refused them: counted there too). */
  dropped = 0;
  /** Hinted handoff for these writes (null: max_hints 0). */
  readonly hints: HintKeeper | null;
  /** By node index: the node's hint queue (null: this node, or hints off). */
  private byNode: (HintQueue | null)[];
  private readonly links: readonly (BackendServer | null)[];
  private readonly states: PeerStates;

  /** `gossip`: membership may grow, so hints are kept even while the view has no remote datacenter yet. */
  constructor(
    pool: PoolConfig, map: ClusterView, links: readonly (BackendServer | null)[], states: PeerStates, workers: number, report: (e: HintsEvent) => void,
    gossip = false,
  ) {
    this.links = links;
    this.states = states;
    const on = pool.maxHints > 0 && (map.remoteDcs.length > 0 || gossip);
    // Its share of the process's bounds: the data workers and this worker split them (pool.ts takes the same shares).
    const keeper = on ? new HintKeeper(this, hintLimits(pool, Math.max(1, workers) + 1), pool.dataStore === 1 ? MEMCACHE_HINT_WORDS : RESP_HINT_WORDS, report) : null;
    this.hints = keeper;
    if (keeper !== null && pool.hintsDir !== null) keeper.persistTo(pool.hintsDir, pool.name, 0, 1, 'c');
    this.byNode = [];
    this.relink(map);
  }

  /** The view changed (membership): every queue follows its node's identity to its index in the new view. */
  relink(map: ClusterView): void {
    const keeper = this.hints;
    keeper?.detachAll();
    this.byNode = map.nodes.map((n) => {
      const link = this.links[n.index] ?? null;
      return keeper === null || link === null ? null : keeper.attach(n.id, n.index, link.st);
    });
  }

  linkOf(node: number): BackendServer | null {
    return this.links[node] ?? null;
  }

  ready(node: number): boolean {
    return !this.states.isDown(node) && this.states.state(node) !== PEER_DATASTORE_DOWN;
  }

  /** One drained record for `node` (bytes valid during the call only). */
  forward(node: number, buf: Uint8Array, start: number, end: number): void {
    const link = this.links[node] ?? null;
    const q = this.byNode[node] ?? null;
    const h = this.hints;
    // The one check a target with no hints costs; one with hints takes the write behind them.
    if (q !== null && q.count > 0) {
      if (!(h as HintKeeper).hold(q, buf, start, end, true)) this.dropped++;
      return;
    }
    if (link === null || this.states.isDown(node)) {
      if (link !== null) link.st[S_REPLICA_FAILURES + F_PEER_DOWN]++;
      if (q === null || !(h as HintKeeper).hold(q, buf, start, end, true)) this.dropped++;
      return;
    }
    const req = acquireRequest(K_REPLICA);
    req.forwardDc = true;
    req.replicaSt = link.st;
    link.st[S.replica_writes_total]++;
    this.forwarded++;
    if (q === null) return link.send(req, buf, start, end);
    // A copy of the bytes (pooled) for a reply that says it was not stored, or an ambiguous failure of an idempotent write.
    req.hintQueue = q;
    req.sentAt = 0;
    if (end - start <= RETRY_MAX_BYTES) retainBytes(req, buf, start, end);
    const k = h as HintKeeper;
    k.sending(buf, start, end);
    link.send(req, buf, start, end);
    k.sending(null, 0, 0);
  }

  /** Timer: replays and expiry. */
  tick(now: number): void {
    this.hints?.tick(now);
  }
}
