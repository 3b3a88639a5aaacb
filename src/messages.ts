// Every message posted between the supervisor and its worker threads, as one discriminated union.
// Never posts class instances or Errors: structured clone would strip them to plain objects.
import type { PeerCompat, PoolConfig } from './config/index.ts';

/** A peer link that failed or was closed by the other side, for the supervisor's log (worker threads have no logger). */
/** A hinted-handoff event for the log: `target` is the node identity, `count` how many hints it concerns. */
export interface HintsEvent {
  target: string;
  what: 'dropped' | 'loaded' | 'file-corrupt' | 'dir-unwritable';
  count: number;
  reason: string;
}

/** An exception while serving one connection (closed; the worker went on), or a listener's accept error, for the supervisor's log. */
export interface ConnectionFault {
  pool: string;
  what: 'client-exception' | 'accept-error' | 'accept-paused' | 'accept-resumed' | 'datastore-auth-refused' | 'max-memory-reached' | 'max-memory-cleared';
  /** client-exception: the incident code the client's error reply names (`E<worker>-<n>`); accept-*: the errno code. */
  code: string;
  /** The client's address, the listener's address, the datastore's name. */
  where: string;
  message: string;
  stack: string;
  /** Faults of the same kind not logged since the last line (rate limit). */
  repeats: number;
}

export interface PeerLinkClosed {
  pool: string;
  /** The peer as its seed names it (host:port or its name). */
  peer: string;
  compat: PeerCompat;
  /** Why: the socket error, "closed by the peer", a timeout, garbage on the link ... */
  cause: string;
  /** What may explain it, when something does (a Dynomite peer and its parser), or null. */
  hint: string | null;
  /** Requests that were waiting on the link and were failed with it. */
  inFlight: number;
  /** Whether the link had connected (false: the connection attempt itself failed). */
  connected: boolean;
  /** Closes with the same cause not logged since the last line (rate limit). */
  repeats: number;
}

export interface WorkerData {
  workerId: number;
  workers: number;
  pools: PoolConfig[];
  style: 'dynomite' | 'twemproxy';
  testHooks: boolean;
  /** This worker slot's counters (stats/stats-table.ts); it outlives a crashed worker, so counters keep counting. */
  statsSab: SharedArrayBuffer;
  /** Cluster mode: this worker's ring of remote-DC writes for the cluster worker, and the peer liveness table. */
  cluster: ClusterShare | null;
  /** The process-wide control block (stats/control-block.ts): node state, server overrides, this worker's probe slots. */
  controlSab: SharedArrayBuffer;
}

export type ToWorker =
  | { type: 'drain'; deadlineMs: number }
  | { type: 'reload'; pools: PoolConfig[] }
  | { type: 'histograms'; reqId: number; reset: boolean }
  /** The cluster worker's gossip records, relayed: what this worker answers a peer's DYNOPROXY.GOSSIP (or GOSSIP_SYN) with. */
  | { type: 'gossip-digest'; payload: Uint8Array }
  /** PUBSUB NUMSUB: count this worker's subscribers of `names` (kind 0 channels, 2 shard channels) for the supervisor. */
  | { type: 'numsub-count'; reqId: number; pool: string; kind: number; names: string[] }
  /** PUBSUB NUMSUB: the counts summed over every worker, for the worker that asked (its own reqId). */
  | { type: 'numsub-answer'; reqId: number; counts: number[] };

export type FromWorker =
  | { type: 'listening'; workerId: number }
  | { type: 'listen-failed'; workerId: number; code: string; message: string }
  | { type: 'drained'; workerId: number }
  | { type: 'peer-link-closed'; workerId: number; link: PeerLinkClosed }
  /** Hints a data worker dropped (bounds, unreadable hints file) or loaded, since its last report (rate-limited where it arises). */
  | { type: 'hints-event'; workerId: number; event: HintsEvent }
  | { type: 'connection-fault'; workerId: number; fault: ConnectionFault }
  /** Per pool, the latency histogram in HdrHistogram compressed base64. */
  | { type: 'histograms'; workerId: number; reqId: number; latency: string[]; cross: [string, string][] }
  /** A peer's gossip records (DYNOPROXY.GOSSIP, or a Dynomite GOSSIP_SYN: dynomite true), for the cluster worker to merge. */
  | { type: 'gossip-in'; workerId: number; payload: Uint8Array; from: string; dynomite: boolean }
  /** PUBSUB NUMSUB through this worker: the supervisor asks every worker for its count (numsub-count) and answers with the sum. */
  | { type: 'numsub-ask'; workerId: number; reqId: number; pool: string; kind: number; names: string[] }
  | { type: 'numsub-counts'; workerId: number; reqId: number; counts: number[] };

/** What a data worker shares with the cluster: its ring of remote-DC writes, peer liveness, the topology table. */
export interface ClusterShare {
  ring: SharedArrayBuffer;
  peerStates: SharedArrayBuffer;
  topology: SharedArrayBuffer;
}

export interface ClusterWorkerData {
  pool: PoolConfig;
  /** One ring per data worker slot. */
  rings: SharedArrayBuffer[];
  peerStates: SharedArrayBuffer;
  /** The topology table: the cluster worker is its only writer. */
  topology: SharedArrayBuffer;
  /** The cluster worker's own counters (its peer links), shaped like a data worker's block for this one pool. */
  statsSab: SharedArrayBuffer;
}

export type FromClusterWorker =
  | { type: 'cluster-ready' }
  | { type: 'peer-state'; node: number; name: string; up: boolean }
  /** The node answers, but reports its datastore down (up: false) or back (up: true). */
  | { type: 'peer-datastore'; node: number; name: string; up: boolean }
  | { type: 'peer-link-closed'; link: PeerLinkClosed }
  | { type: 'cluster-stats'; forwarded: number; dropped: number; queued: number }
  /** Hints the cluster worker dropped (bounds, unreadable hints file) or loaded for its remote-DC writes (rate-limited where it arises). */
  | { type: 'hints-event'; event: HintsEvent }
  /** Warm-up progress (cluster/warm-up.ts), on every phase change and at most every 250 ms while copying. */
  | { type: 'warm-up'; status: WarmUpStatus }
  /** The answer to a { type: 'warm-up-start' } message: HTTP-like status (200 started, 409 already warming, 400 nothing to copy from). */
  | { type: 'warm-up-answer'; status: number; message: string }
  /** The answer to a { type: 'cleanup-start' } message (POST /cleanup). */
  | { type: 'cleanup-answer'; status: number; message: string }
  /** The answer to a { type: 'leave-start' } message (POST /state/leaving). */
  | { type: 'leave-answer'; status: number; message: string }
  /** The answer to a { type: 'move-start', tokens } message (POST /ring/move). */
  | { type: 'move-answer'; status: number; message: string }
  /** A ring move kept this node's new tokens (cluster/move.ts): a restarted cluster worker starts from them (and joins while `joining`). */
  | { type: 'tokens-moved'; tokens: string[]; joining: boolean }
  | { type: 'log'; level: 'info' | 'warn'; msg: string; fields: Record<string, unknown> }
  /** This node's gossip records (after every round and change): the data workers answer peers' DYNOPROXY.GOSSIP with them. */
  | { type: 'gossip-digest'; payload: Uint8Array }
  /** Membership figures for /metrics and /info. */
  | { type: 'gossip-stats'; stats: GossipStats }
  /** Anti-entropy progress (cluster/repair.ts), on every phase change and at most every 250 ms while running. */
  | { type: 'repair'; status: RepairStatus }
  /** The answer to a { type: 'repair-start' } message: 200 started, 409 one is running, 400 cannot (memcached, no peer rack, range). */
  | { type: 'repair-answer'; status: number; message: string };

/** Gossip's figures (cluster/gossip.ts and membership.ts), as /metrics and /info show them. */
export interface GossipStats {
  enabled: boolean;
  rounds: number;
  sent: number;
  replies: number;
  failed: number;
  received: number;
  /** Records refused, by reason (malformed, flood, token-owned, address-claimed, too-many-nodes, bad-node). */
  refused: Record<string, number>;
  stale: number;
  nodesAdded: number;
  /** This node's gossip version (its clock in ms at its last round). */
  version: number;
  /** join.ts's phase (none: this node was not told to join). */
  join: string;
  /** The last cleanup of handed-over keys (cleanup.ts). */
  cleanup: { running: boolean; runs: number; keysScanned: number; keysDeleted: number; startedAt: number; finishedAt: number; lastError: string };
  /** The current or last ring move (move.ts, POST /ring/move). */
  move: { phase: string; from: string; to: string; startedAt: number; finishedAt: number; lastError: string };
}

/** What the supervisor asks the cluster worker for /repair: the whole node's range (null) or inclusive key-hash bounds (start > end wraps). */
export interface RepairStart {
  type: 'repair-start';
  range: { start: number; end: number } | null;
}

/** Anti-entropy figures: of the current or last run, and summed over the runs of this process (`total`). */
export interface RepairFigures {
  keysCompared: number;
  keysDiffering: number;
  keysRepaired: number;
  conflicts: number;
  /** Differing keys left alone: changed between the two looks (a write in flight), or changed again before the repair's write. */
  keysSkipped: number;
  /** Request and reply bytes the run exchanged with the racks (its own node's included). */
  bytes: number;
}

/** A node's anti-entropy repair, as GET /repair, /info and /metrics show it. */
export interface RepairStatus extends RepairFigures {
  phase: 'idle' | 'digesting' | 'comparing' | 'repairing' | 'done' | 'failed';
  running: boolean;
  runs: number;
  /** 'admin', 'interval'. */
  reason: string;
  /** '' the node's whole range; else 'start-end' as asked. */
  range: string;
  /** The racks compared (this node's first), and those left out (their owner down, warming, or a Dynomite node). */
  racks: string[];
  racksSkipped: string[];
  bucketsCompared: number;
  bucketsDiffering: number;
  /** Keys the racks' scans met so far (progress of the digest phase). */
  keysScanned: number;
  startedAt: number;
  finishedAt: number;
  lastError: string;
  /** Seconds between periodic runs (repair_interval; 0 off). */
  interval: number;
  total: RepairFigures & { runs: number };
}

/** A node's warm-up, as /info, /metrics and the dashboard show it. */
export interface WarmUpStatus {
  /** idle: never ran or done; writes_only: copying (reads go to other racks); resuming: copy done, reads coming back; failed. */
  phase: 'idle' | 'writes_only' | 'resuming' | 'failed' | 'joining' | 'leaving';
  enabled: boolean;
  runs: number;
  keysCopied: number;
  bytesCopied: number;
  /** Keys the copy found already present here (a newer write won): RESTORE without REPLACE answered BUSYKEY. */
  keysSkipped: number;
  /** Keys RESTORE refused otherwise (counted, logged). */
  keysFailed: number;
  /** Keys written at the source during the copy, read again there and written here with its value (cluster/mirror.ts). */
  keysMirrored: number;
  /** Keys deleted at the source during the copy, deleted here too (and left out of the copy). */
  keysMirrorDeleted: number;
  keysScanned: number;
  /** Estimated keys of this node's range on the sources. */
  keysExpected: number;
  /** Seconds left, estimated from the share of the sources' keys scanned so far; 0 when not copying. */
  etaSeconds: number;
  /** Keys copied per second in the current (or last) run. */
  keysPerSecond: number;
  sources: string[];
  startedAt: number;
  finishedAt: number;
  lastError: string;
  /** Why the last run started: 'empty datastore', 'datastore restarted', 'admin'. */
  reason: string;
}
