// What the admin API needs from the process that hosts it (the supervisor): config, counters, histograms, the control block.
// Never a class: the admin API depends on this shape only, so a cluster-aware host can serve it later without changes here.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/index.ts';
import type { ControlBlock, Histogram, PoolShape, PoolTotals } from '../stats/index.ts';
import type { GossipStats, RepairStatus, WarmUpStatus } from '../messages.ts';

export interface AdminHost {
  readonly loadedConfig: LoadedConfig;
  readonly control: ControlBlock;
  readonly poolShapes: readonly PoolShape[];
  readonly workerCount: number;
  readonly workerRestarts: number;
  /** Process start, ms since the epoch. */
  readonly startedAt: number;
  readonly log: Logger;
  counters(): PoolTotals[];
  /** Per pool, latency histogram (µs) merged over the workers; reset=true starts them afresh. */
  latency(reset?: boolean): Promise<Histogram[]>;
  workerSlots(): { id: number; alive: boolean; restarts: number }[];
  /** Cluster mode: the node's view of the cluster and the peer overrides; null on a single node. */
  readonly cluster: AdminCluster | null;
  /** Peer round trips (µs) as of the last latency() call; null on a single node. */
  readonly crossLatency: { zone: Histogram; region: Histogram } | null;
}

export interface ClusterServer {
  name: string;
  host: string;
  port: number;
  token: number;
  state: 'normal' | 'down' | 'datastore_down' | 'unknown' | 'warming';
  local: boolean;
  // Added for token-aware clients (dynoproxy/client); Dynomite's fields above keep their meaning.
  dc: string;
  rack: string;
  /** Every token of the node, as configured; `token` above is the first only (Dynomite's field). */
  tokens: string[];
  /** The node's client (RESP) port; 0 when this node does not know it (a peer: seeds carry peer ports only). */
  client_port: number;
  /** The node's own state (normal, standby, writes_only, resuming) when local; a peer's liveness otherwise. */
  node_state: string;
  /** Its tokens moved a moment ago (joined or left): writes for the moved ranges still go to both sides. */
  settling?: boolean;
}

/** What a token-aware client needs besides the nodes: the key hash and the datastore. */
export interface ClusterKeying {
  hash: string;
  hash_tag: string | null;
  data_store: 'redis' | 'memcache';
}

export interface AdminCluster {
  /** Dynomite's /cluster_describe shape: dcs > racks > servers. */
  describe(): { dcs: { name: string; racks: { name: string; servers: ClusterServer[] }[] }[] } & ClusterKeying;
  /** /peer/up|down|reset/<host:port|all>: how many peers matched. */
  overridePeer(name: string, verb: 'up' | 'down' | 'reset'): number;
  /** Cross-datacenter replication: forwarded, dropped, queued (bytes). */
  readonly replication: { forwarded: number; dropped: number; queued: number };
  /** Warm-up progress (null: none reported, e.g. a memcached node). */
  readonly warmUp: WarmUpStatus | null;
  /** Gossip's figures from the cluster worker's last report (null before it). */
  readonly gossip: GossipStats | null;
  /** /state/warm_up: start one now; an HTTP status and a message. */
  startWarmUp(): Promise<{ status: number; message: string }>;
  /** POST /cleanup: delete the keys this node handed over in a token move. */
  startCleanup(): Promise<{ status: number; message: string }>;
  /** POST /state/leaving: decommission this node (its range goes to its rack's other nodes, then it leaves the ring). */
  startLeave(): Promise<{ status: number; message: string }>;
  /** POST /ring/move?token=T: this node leaves, then joins again with these tokens (a rebalance step). */
  startMove(tokens: readonly string[]): Promise<{ status: number; message: string }>;
  /** Anti-entropy: the current or last run (null: none reported, e.g. a memcached node). */
  readonly repair: RepairStatus | null;
  /** POST /repair: start one (range: key-hash bounds; null the node's whole range); an HTTP status and a message. */
  startRepair(range: { start: number; end: number } | null): Promise<{ status: number; message: string }>;
}
