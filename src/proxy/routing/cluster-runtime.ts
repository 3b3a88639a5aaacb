// ClusterRuntime: a cluster node's routing state inside one data worker — the ClusterView decoded from the shared topology table,
// one link per other node keyed by node identity (never by seed index), peer liveness and the replication ring. Allocates only when the table's version moves.
import { CONSISTENCIES, createClusterTable, topologyFromConfig, type Consistency, type PoolConfig } from '../../config/index.ts';
import { ClusterView, KeyHasher, ReplicaSet, TopologyReader, TopologyWriter } from '../../topology/index.ts';
import { PeerStates, ReplicationRing, PEER_WARMING } from '../../peer/index.ts';
import { C_READ_CONSISTENCY, C_WRITE_CONSISTENCY, SERVER_BLOCK_SLOTS } from '../../stats/index.ts';
import type { ClusterShare } from '../../messages.ts';
import type { BackendServer, Merge, Request } from '../../io/index.ts';
import type { KeyRoute } from './key-route.ts';
import type { CommandSpec } from '../../commands/index.ts';
import type { Args } from './scratch.ts';
import type { HintQueue } from '../../hints/index.ts';

/** Makes the link to one node (peer-link.ts newPeerLink, bound to the pool's settings). */
export type LinkFactory = (node: ClusterView['nodes'][number], sameDc: boolean, st: Float64Array) => BackendServer;

/** What routing needs of a client: its reply queue and its per-connection consistency (DYNO_CONFIG). */
export interface RespClientLike {
  consistency: string | null;
  enqueue(req: Request): void;
  replyLocal(reply: Uint8Array): void;
  readonly pool: { readonly st: Float64Array };
}

/** What routing asks of the Dynomite gate (dynomite-gate.ts implements it). */
export interface DynomiteCheck {
  /** -1: route on as is; else the request was answered or routed in a rewritten form (1), or its keys cannot be served together (0). */
  admit(c: RespClientLike, spec: CommandSpec, a: Args, n: number, splittable: boolean): number;
  /** True when a broadcast was refused (and answered) because a Dynomite peer cannot parse it. */
  refusesBroadcast(c: RespClientLike, spec: CommandSpec, a: Args): boolean;
  /** The peer server's fan-out of a forwarded write: false when it fits Dynomite as is, else done (rewritten or skipping Dynomite owners). */
  fanOutForwarded(spec: CommandSpec, a: Args, n: number, racks: ArrayLike<number>, bytes: Uint8Array, start: number, end: number): boolean;
}

/** Read repair for one-key quorum reads (resp/read-repair.ts implements it for RESP pools with read_repairs_enabled). */
export interface ReadRepairHook {
  merge(cl: ClusterRuntime, r: KeyRoute, set: ReplicaSet, locals: number, safe: boolean, noQuorum: Buffer): Merge;
}

/** What routing asks of hinted handoff (hints.ts Hints implements it). */
export interface HintRouting {
  /** By node index of the view: the node's hint queue (null: this node). */
  readonly byNode: readonly (HintQueue | null)[];
  /** Keep a copy of the bytes as a hint for the queue's target; false when a bound refused it (counted). */
  hold(q: HintQueue, bytes: Uint8Array, start: number, end: number, forward: boolean): boolean;
  /** The bytes of the replica write being sent (null after): a failure before it left is told inside send. */
  sending(bytes: Uint8Array | null, start: number, end: number): void;
  /** Whether a write is safe to apply twice (SET, DEL ...): a DC_ONE write that fails at its owner may then go to the next rack. */
  idempotent(buf: Uint8Array, start: number, end: number): boolean;
  /** Whether reads should skip the node: it came back a moment ago (hints.ts recovery grace). */
  isRecovering(node: number): boolean;
  relink(): void;
  tick(now: number): void;
}

export class ClusterRuntime {
  /** The view requests are routed with; replaced (never mutated) when the table's version moves. */
  view: ClusterView;
  /** By node index of `view`: the link to that node, or null for this node (its own datastore). */
  links: (BackendServer | null)[] = [];
  readonly hasher: KeyHasher;
  /** replicasFor's output for the request being routed (one per worker: routing is synchronous). */
  readonly replicas = new ReplicaSet();
  /** The pool's counters (replica drops, remote-DC writes ...). */
  readonly st: Float64Array;
  /** Liveness from the cluster worker's failure detector (and operator overrides); null without a cluster worker. */
  readonly states: PeerStates | null;
  /** Remote-DC writes go through the cluster worker, which batches them per remote node; null: sent directly. */
  readonly ring: ReplicationRing | null;
  /** Keeps what a Dynomite peer cannot parse from being sent (dynomite-gate.ts); null when no node runs Dynomite. */
  dynomite: DynomiteCheck | null = null;
  /** Hinted handoff for the replica writes this worker makes (hints.ts); null: off (max_hints 0). */
  hints: HintRouting | null = null;
  /** Read repair of one-key quorum reads, or null (off, memcached pools). */
  readRepair: ReadRepairHook | null = null;
  private readonly reader: TopologyReader;
  private readonly byId = new Map<string, BackendServer>();
  /** Stats blocks of the configured peers, by identity (the /metrics rows follow dyn_seeds). */
  private readonly peerSt = new Map<string, Float64Array>();
  private readonly makeLink: LinkFactory;
  private readonly config: () => PoolConfig;
  private readonly ctl: Int32Array | null;
  /** Where a key lives on this node (its datastore servers). */
  readonly localServerFor: (buf: Uint8Array, start: number, end: number) => BackendServer | null;
  /** Why this node's datastore servers are ejected when the user must fix it (its AUTH refused), else null (the pool sets it). */
  localRefusal: () => string | null = () => null;
  /** Token moves of this pool copy with a mirror (one redis server per node): their receiving side gets no shadow writes. */
  readonly mirroredMoves: boolean;

  constructor(
    config: () => PoolConfig,
    share: ClusterShare | null,
    controlSab: SharedArrayBuffer | null,
    st: Float64Array,
    peerSlots: readonly Float64Array[],
    makeLink: LinkFactory,
    localServerFor: (buf: Uint8Array, start: number, end: number) => BackendServer | null,
  ) {
    const c = config();
    this.config = config;
    this.st = st;
    this.makeLink = makeLink;
    this.localServerFor = localServerFor;
    this.hasher = new KeyHasher(c.hash, c.hashTag);
    this.mirroredMoves = c.dataStore === 0 && c.servers.length === 1;
    this.states = share !== null ? new PeerStates(share.peerStates) : null;
    this.ring = share !== null ? new ReplicationRing(share.ring) : null;
    this.ctl = controlSab !== null ? new Int32Array(controlSab) : null;
    // Without a cluster worker (a pool run alone, in tests) this worker publishes the configured topology for itself.
    let table = share?.topology;
    if (table === undefined) {
      const snap = topologyFromConfig(c);
      table = createClusterTable(snap);
      new TopologyWriter(table).publish(snap);
    }
    this.reader = new TopologyReader(table);
    const configured = new ClusterView(topologyFromConfig(c));
    configured.nodes.forEach((n) => {
      if (!n.local && peerSlots[n.index - 1] !== undefined) this.peerSt.set(n.id, peerSlots[n.index - 1]);
    });
    this.view = new ClusterView(this.reader.snapshot());
    this.relink();
  }

  /** The view for the request being routed: re-read when the table's version moved (requests in flight keep what they hold). */
  current(): ClusterView {
    const r = this.reader;
    r.refresh();
    if (r.version !== this.view.version) {
      this.view = new ClusterView(r.snapshot());
      this.relink();
    }
    return this.view;
  }

  /** Links follow identities: a node that stays keeps its link (and its connections), one that left is closed. */
  private relink(): void {
    const view = this.view;
    const seen = new Set<string>();
    this.links = view.nodes.map((n) => {
      if (n.local) return null;
      seen.add(n.id);
      let link = this.byId.get(n.id);
      if (link === undefined) {
        link = this.makeLink(n, n.dc === view.localDc, this.peerSt.get(n.id) ?? new Float64Array(SERVER_BLOCK_SLOTS));
        this.byId.set(n.id, link);
      }
      return link;
    });
    for (const [id, link] of this.byId) {
      if (seen.has(id)) continue;
      link.close();
      this.byId.delete(id);
    }
    this.hints?.relink();
  }

  /** Requests for this node fail at once (detected down, or marked down by an operator). */
  /** max_blocking_connections: blocking calls in flight per upstream of this worker. */
  maxBlocking(): number {
    return this.config().maxBlockingConnections;
  }

  isDown(node: number): boolean {
    return this.states !== null && this.states.isDown(node);
  }

  /** Reads for this node go to the next replica at once: it is down, or warming up (its datastore is being filled, cluster/warm-up.ts). */
  skipsReads(node: number): boolean {
    return this.states !== null && this.states.skipsReads(node);
  }

  /** This node is warming up: its own datastore must not answer reads (they go to another rack), writes are applied as usual. */
  warming(): boolean {
    return this.isWarming(this.view.localNode);
  }

  /** A node (this one, or a peer that answers its PING with +WARMING) is warming up. */
  isWarming(node: number): boolean {
    return this.states !== null && this.states.state(node) === PEER_WARMING;
  }

  /** Where a request for `node` goes: its link (null while it is down), or this node's datastore server for the key. */
  upstream(node: number, buf: Uint8Array, start: number, end: number): BackendServer | null {
    const link = this.links[node];
    if (link === null) return end > start ? this.localServerFor(buf, start, end) : this.localServerFor(buf, 0, 0);
    if (link === undefined || this.isDown(node)) return null;
    return link;
  }

  keyHash(buf: Uint8Array, start: number, end: number): number {
    return this.hasher.keyHash(buf, start, end);
  }

  /** The admin API (/set_consistency) changes these at runtime through the control block; the file gives the start. */
  readConsistency(): Consistency {
    const ctl = this.ctl;
    return (ctl !== null ? CONSISTENCIES[Atomics.load(ctl, C_READ_CONSISTENCY)] : undefined) ?? this.config().readConsistency;
  }

  writeConsistency(): Consistency {
    const ctl = this.ctl;
    return (ctl !== null ? CONSISTENCIES[Atomics.load(ctl, C_WRITE_CONSISTENCY)] : undefined) ?? this.config().writeConsistency;
  }

  /** The pool's request timeout (ms; 0: none): how long a read may keep failing over. */
  timeoutMs(): number {
    return this.config().timeout;
  }

  /** Whether a DC_ONE write whose owner is down is taken by the next local rack and hinted for the owner (write_failover). */
  /** gos_interval (ms): the failure detector's heartbeat. */
  gossipInterval(): number {
    return this.config().gossipInterval;
  }

  writeFailover(): boolean {
    return this.config().writeFailover;
  }

  /** Whether reads fail over to the next replica (read_failover; off: Dynomite's exact behaviour). */
  readFailover(): boolean {
    return this.config().readFailover;
  }

  /** A link of its own to a node (not the shared one): for a long poll that must not hold other replies back. */
  dedicatedLink(node: ClusterView['nodes'][number]): BackendServer {
    return this.makeLink(node, node.dc === this.view.localDc, new Float64Array(SERVER_BLOCK_SLOTS));
  }

  /** Every link, for timers and shutdown. */
  allLinks(): IterableIterator<BackendServer> {
    return this.byId.values();
  }
}
