// Shapes exchanged between the load generator's main side and its piscina worker tasks.
// Plain data only (structured clone): never put a class instance, a Buffer view or a function in here.

export type LoadProtocol = 'resp' | 'memcache';
export type LoadCommand = 'get' | 'set' | 'mget';
/** closed: fixed concurrency (connections x pipeline), next batch on the last reply. open: fixed arrival rate. */
export type LoadMode = 'closed' | 'open';

export interface Workload {
  protocol: LoadProtocol;
  command: LoadCommand;
  /** Value size of SET requests (and of the values GET finds, once filled). */
  valueBytes: number;
  /** Distinct keys cycled through. */
  keyCount: number;
  /** Keys are `<prefix>:<8-digit index>`; one prefix per value size keeps GET 64 B and GET 4 KiB apart. */
  keyPrefix: string;
  /** Keys per MGET (memcached: keys per multi-key get). */
  mgetKeys: number;
}

/** Start barrier shared with every task of one run (Int32 slots of a SharedArrayBuffer). */
export const SYNC_READY = 0;
/** Set to 1 by the main side once every task is connected; the start time is in the Float64 view. */
export const SYNC_GO = 1;
export const SYNC_INT32_SLOTS = 2;
/** Float64 slot index (after the Int32 slots, 8-byte aligned) holding the start time, epoch ms. */
export const SYNC_START_AT = 1;
export const SYNC_BYTES = 16;

export interface LoadTaskSpec {
  host: string;
  port: number;
  workload: Workload;
  /** Connections this task opens. */
  connections: number;
  /** Closed loop: requests written per batch (pipeline depth). Open loop: most requests one write carries. */
  pipeline: number;
  mode: LoadMode;
  /** Open loop: requests per second this task intends to send, spread evenly over its connections. */
  ratePerSec: number;
  /**
   * Open loop: 0 sends what is due whenever a reply arrives, with a Node timer (>= 1 ms) for quiet spells; > 0 sends
   * on a fixed grid of this many µs, ticked by a helper thread (a message per tick), while replies are read as they arrive.
   */
  pacingUs: number;
  warmupMs: number;
  durationMs: number;
  /** The measured window also ends once this task has counted this many replies in it. */
  maxRequests: number;
  /** Where in the key ring this task starts, so tasks do not walk the same keys in step. */
  keyOffset: number;
  /** Give up connecting after this long. */
  connectTimeoutMs: number;
  sync: SharedArrayBuffer;
  taskIndex: number;
}

export type EndedBy = 'time' | 'count' | 'error';

export interface LoadTaskResult {
  taskIndex: number;
  connections: number;
  connected: number;
  /** Replies that arrived inside the measured window. */
  ops: number;
  /** Of those, error replies (RESP `-`, memcached ERROR/CLIENT_ERROR/SERVER_ERROR). */
  errorReplies: number;
  /** Length of this task's measured window, ms. */
  elapsedMs: number;
  endedBy: EndedBy;
  /** Connections lost (error or closed by the server) before the task ended. */
  connectionErrors: number;
  firstError: string | undefined;
  /** Latency per reply in ns, hdr-histogram compressed base64. Open loop: from the intended send time. */
  latency: string;
  /** Open loop only: from the actual write, i.e. what a closed-loop tool would have reported. */
  serviceLatency: string | undefined;
  /** Open loop only: actual write time minus intended send time (the generator's own lateness), ns. */
  sendLag: string | undefined;
  /** Open loop only: most requests waiting to be sent on one connection (the server fell behind). */
  maxBacklog: number;
}

/** Percentiles of one latency distribution, in µs. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

export interface LoadReport {
  mode: LoadMode;
  threads: number;
  connections: number;
  pipeline: number;
  /** Open loop: the intended total rate. */
  targetRatePerSec: number | null;
  ops: number;
  opsPerSec: number;
  errorReplies: number;
  connectionErrors: number;
  firstError: string | undefined;
  /** Longest task window, ms. */
  elapsedMs: number;
  endedBy: EndedBy[];
  latencyUs: LatencySummary;
  serviceLatencyUs: LatencySummary | null;
  sendLagUs: LatencySummary | null;
  maxBacklog: number;
  /** Epoch ms of the measured window as planned (for sampling /proc around it). */
  windowStartMs: number;
  windowEndMs: number;
}
