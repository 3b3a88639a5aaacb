// Every counter and gauge dynoproxy keeps, declared once as data; slot layouts, /stats and /metrics derive from it.
// Never holds values: this is the schema only.
import { FAILURE_CODES } from '../protocol/failure/index.ts';

export type MetricKind = 'counter' | 'gauge';

export interface MetricDecl {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
}

/** Per pool, per worker. */
export const POOL_METRICS = [
  { name: 'client_connections', kind: 'gauge', help: 'Client connections open' },
  { name: 'client_connections_total', kind: 'counter', help: 'Client connections accepted' },
  { name: 'client_rejected_total', kind: 'counter', help: 'Client connections refused at the client_connections limit or while draining' },
  { name: 'client_protocol_errors_total', kind: 'counter', help: 'Client connections closed for malformed requests' },
  { name: 'auth_failures_total', kind: 'counter', help: 'Failed AUTH (or HELLO AUTH) attempts; a connection past 5 at once, then 1 a second, is closed' },
  { name: 'client_exceptions_total', kind: 'counter', help: 'Connections closed because serving them threw (a proxy bug: the request got an error, the worker went on; see the log)' },
  { name: 'accept_errors_total', kind: 'counter', help: 'Errors accepting connections (EMFILE, ENFILE ...); on fd exhaustion the listener pauses and resumes' },
  { name: 'tls_handshake_failures_total', kind: 'counter', help: 'Client connections closed during the TLS handshake (no or bad client certificate, plain text on the TLS port, old protocol version, timeout)' },
  { name: 'client_paused_total', kind: 'counter', help: 'Times a client was paused by backpressure (in-flight or buffered-bytes bound)' },
  { name: 'requests_total', kind: 'counter', help: 'Client requests parsed' },
  { name: 'request_errors_total', kind: 'counter', help: 'Client requests answered with an error (by the proxy or a backend)' },
  { name: 'requests_local_total', kind: 'counter', help: 'Requests answered by the proxy itself (PING, AUTH, refusals ...)' },
  { name: 'requests_split_total', kind: 'counter', help: 'Multi-key requests split over several backends' },
  { name: 'read_repair_mismatches_total', kind: 'counter', help: 'One-key quorum reads whose local racks answered differently (read_repairs_enabled)' },
  { name: 'read_repairs_total', kind: 'counter', help: 'Replicas rewritten with the majority value by read repair' },
  { name: 'oom_rejected_total', kind: 'counter', help: 'Commands refused with -OOM / SERVER_ERROR out of memory because the process was past max_memory' },
  { name: 'client_output_limit_disconnects_total', kind: 'counter', help: 'Clients disconnected for leaving too many reply bytes unread (client_reply_hard_limit / soft limit)' },
  { name: 'pubsub_subscriptions_total', kind: 'counter', help: 'Channels and patterns clients subscribed to' },
  { name: 'pubsub_messages_total', kind: 'counter', help: 'Pub/sub messages delivered to clients' },
  { name: 'pubsub_slow_disconnects_total', kind: 'counter', help: 'Subscribers disconnected for not reading (32 MiB of messages unsent)' },
  { name: 'blocking_calls_total', kind: 'counter', help: 'Blocking calls (BLPOP, XREAD BLOCK ...) served, each on a backend connection of its own' },
  { name: 'watch_pins_total', kind: 'counter', help: 'Backend connections pinned for one client by WATCH (held until EXEC, DISCARD, UNWATCH, RESET or disconnect)' },
  { name: 'requests_in_flight', kind: 'gauge', help: 'Client requests waiting for their reply' },
  { name: 'client_bytes_in_total', kind: 'counter', help: 'Bytes read from clients' },
  { name: 'client_bytes_out_total', kind: 'counter', help: 'Bytes written to clients' },
  { name: 'read_requests_total', kind: 'counter', help: 'Client requests for the datastore that only read (Dynomite client_read_requests)' },
  { name: 'write_requests_total', kind: 'counter', help: 'Client requests for the datastore that write (Dynomite client_write_requests)' },
  { name: 'state_rejected_total', kind: 'counter', help: "Requests refused because of the node's state (STANDBY, WRITES_ONLY, RESUMING)" },
  { name: 'writes_held_total', kind: 'counter', help: 'Writes held back while the node was WRITES_ONLY, to be sent at RESUMING' },
  { name: 'writes_held_dropped_total', kind: 'counter', help: 'Writes refused while WRITES_ONLY because the hold queue was full' },
  { name: 'replica_writes_dropped_total', kind: 'counter', help: 'Replica writes for other racks or datacenters not handed on (peer down, replication ring full)' },
  { name: 'remote_dc_writes_total', kind: 'counter', help: 'Writes queued for other datacenters (through the cluster worker)' },
  { name: 'read_failovers_total', kind: 'counter', help: 'Reads retried on the next replica because their owner (or its datastore) was down' },
  { name: 'write_failovers_total', kind: 'counter', help: 'DC_ONE writes stored by the next local rack because their owner was down (the owner gets a hint)' },
  { name: 'writes_held', kind: 'gauge', help: 'Writes held now, waiting for RESUMING' },
  { name: 'peer_connections_total', kind: 'counter', help: 'Connections accepted on the peer port (dyn_listen)' },
  { name: 'peer_connections_rejected_total', kind: 'counter', help: 'Peer-port connections refused at max_peer_connections or while draining' },
  { name: 'peer_auth_failures_total', kind: 'counter', help: 'Peer-port connections closed for failing or not attempting authentication (peer_secret)' },
  { name: 'peer_tls_refused_total', kind: 'counter', help: 'Peer-port connections refused by secure_server_option: plain text where TLS is required, or a certificate not signed by tls_ca' },
  { name: 'peer_requests_refused_total', kind: 'counter', help: 'Peer requests refused by the peer-port command gate (not a keyed datastore command)' },
  { name: 'dynomite_refused_total', kind: 'counter', help: "Client requests refused because a Dynomite peer they would reach cannot parse them (nothing was sent)" },
  { name: 'dynomite_rewritten_total', kind: 'counter', help: 'Requests rewritten to a form Dynomite parses, with the same meaning and reply (UNLINK as DEL ...)' },
  { name: 'dynomite_fanout_skipped_total', kind: 'counter', help: 'Writes forwarded by another datacenter not passed on to a Dynomite node of this one, which cannot parse them' },
] as const satisfies readonly MetricDecl[];

/** Per backend server, per pool, per worker. */
export const SERVER_METRICS = [
  { name: 'server_requests_total', kind: 'counter', help: 'Requests sent to the backend' },
  { name: 'server_errors_total', kind: 'counter', help: 'Backend connection failures (refused, reset, timed out, garbage)' },
  { name: 'server_timeouts_total', kind: 'counter', help: 'Backend requests that hit the timeout' },
  { name: 'server_ejected', kind: 'gauge', help: '1 while the backend is ejected (auto_eject_hosts)' },
  { name: 'server_ejections_total', kind: 'counter', help: 'Times the backend was ejected' },
  { name: 'server_connections', kind: 'gauge', help: 'Open connections to the backend' },
  { name: 'server_in_flight', kind: 'gauge', help: 'Requests sent and not yet answered' },
  { name: 'server_pinned_connections', kind: 'gauge', help: 'Backend connections held by one client each (WATCH ... EXEC)' },
  { name: 'server_bytes_out_total', kind: 'counter', help: 'Request bytes written to the backend' },
  { name: 'server_bytes_in_total', kind: 'counter', help: 'Reply bytes read from the backend' },
  { name: 'replica_writes_total', kind: 'counter', help: 'Replica writes sent to this peer that nobody waits for (other racks, other datacenters)' },
] as const satisfies readonly MetricDecl[];

/**
 * Per backend server and per peer link, after SERVER_METRICS: replica writes that failed, one slot per failure code
 * (protocol/failures.ts; label `code`). A replica's error reply or timeout is never discarded uncounted.
 */
export const REPLICA_FAILURES_METRIC = {
  name: 'replica_write_failures_total',
  kind: 'counter',
  help: 'Replica writes to this peer that failed, by failure code (error reply, timeout, peer down, queue full ...)',
} as const satisfies MetricDecl;
/** Slot of failure code f in a server block: S_REPLICA_FAILURES + f. */
export const S_REPLICA_FAILURES = SERVER_METRICS.length;

/**
 * Per peer link only (after the failure slots): the cluster worker's failure detector's verdict (gauges), and the hinted
 * handoff figures for writes kept for this peer (a gauge and two counters; each kind is rendered as declared).
 */
export const PEER_GAUGES = [
  { name: 'peer_up', kind: 'gauge', help: 'The failure detector sees the node up (1) or down (0)' },
  { name: 'peer_datastore_up', kind: 'gauge', help: "The node's datastore answers (1) or not (0), as the node reports it" },
  { name: 'hints_queued', kind: 'gauge', help: 'Replica writes for this peer kept as hints, waiting for it to come back' },
  { name: 'hints_replayed_total', kind: 'counter', help: 'Hints delivered to this peer after it came back' },
  { name: 'hints_dropped_total', kind: 'counter', help: 'Hints for this peer dropped (count, bytes or age bound; unreadable hints file records; too big to keep)' },
] as const satisfies readonly MetricDecl[];
const PEER_BASE = SERVER_METRICS.length + FAILURE_CODES.length;
/** Slot of each peer gauge inside a peer block. */
export const S_PEER = {
  peer_up: PEER_BASE,
  peer_datastore_up: PEER_BASE + 1,
  hints_queued: PEER_BASE + 2,
  hints_replayed_total: PEER_BASE + 3,
  hints_dropped_total: PEER_BASE + 4,
} as const;
/** Slots of one server or peer block. */
export const SERVER_BLOCK_SLOTS = SERVER_METRICS.length + FAILURE_CODES.length + PEER_GAUGES.length;

/** Per command family, per pool: the two counters of stats-table.ts (G_REQUESTS, G_ERRORS). */
export const COMMAND_FAMILY_METRICS = [
  { name: 'command_requests_total', kind: 'counter', help: 'Client requests per command family' },
  { name: 'command_errors_total', kind: 'counter', help: 'Error replies per command family' },
] as const satisfies readonly MetricDecl[];

/** Per data worker, written by the worker into the control block (stats/control-block.ts). */
export const WORKER_METRICS = [
  { name: 'worker_event_loop_delay_p50_seconds', kind: 'gauge', help: 'Event-loop delay of the worker, median over the last second' },
  { name: 'worker_event_loop_delay_p99_seconds', kind: 'gauge', help: 'Event-loop delay of the worker, 99th percentile over the last second' },
  { name: 'worker_event_loop_delay_max_seconds', kind: 'gauge', help: 'Event-loop delay of the worker, maximum over the last second' },
  { name: 'worker_requests_allocated', kind: 'gauge', help: 'Request objects ever allocated by the worker (Dynomite alloc_msgs)' },
  { name: 'worker_requests_free', kind: 'gauge', help: 'Request objects in the worker free list (Dynomite free_msgs)' },
  { name: 'worker_heap_used_bytes', kind: 'gauge', help: 'V8 heap used by the worker' },
  { name: 'worker_probe_timestamp_seconds', kind: 'gauge', help: 'When the worker last wrote these figures (Unix time)' },
] as const satisfies readonly MetricDecl[];

/** Per process, kept by the supervisor and the admin server. */
export const NODE_METRICS = [
  { name: 'node_state', kind: 'gauge', help: "1 for the node's current state (label state), 0 for the others" },
  { name: 'worker_restarts_total', kind: 'counter', help: 'Data workers restarted after a crash' },
  { name: 'workers', kind: 'gauge', help: 'Data workers alive' },
  { name: 'admin_requests_total', kind: 'counter', help: 'Requests served by the admin API' },
  { name: 'admin_rejected_total', kind: 'counter', help: 'Admin requests refused (rate limit, size, authorisation)' },
  { name: 'uptime_seconds', kind: 'gauge', help: 'Seconds since the process started' },
] as const satisfies readonly MetricDecl[];

/** Warm-up of a cluster node (cluster/warm-up.ts); the counters are the current (or last) run's. */
export const WARMUP_METRICS = [
  { name: 'warmup_state', kind: 'gauge', help: '0 idle, 1 copying (WRITES_ONLY: reads served by other racks), 2 resuming, 3 the last run failed, 4 joining (copying its new range), 5 leaving (handing its range over)' },
  { name: 'warmup_runs_total', kind: 'counter', help: 'Warm-ups started (automatically or by /state/warm_up)' },
  { name: 'warmup_keys_copied_total', kind: 'counter', help: 'Keys restored from the source rack by the current or last warm-up' },
  { name: 'warmup_bytes_copied_total', kind: 'counter', help: 'Key and DUMP payload bytes restored by the current or last warm-up' },
  { name: 'warmup_keys_skipped_total', kind: 'counter', help: 'Copied keys not restored because a write had already put the key here (newer)' },
  { name: 'warmup_keys_failed_total', kind: 'counter', help: 'Copied keys the local datastore refused to RESTORE' },
  { name: 'warmup_keys_expected', kind: 'gauge', help: "Estimated keys of this node's range on the source nodes" },
  { name: 'warmup_eta_seconds', kind: 'gauge', help: 'Estimated seconds until the copy ends (0 when not copying)' },
  { name: 'warmup_keys_mirrored_total', kind: 'counter', help: 'Keys written at the source during the copy, read again there and written here with its value' },
  { name: 'warmup_keys_mirror_deleted_total', kind: 'counter', help: 'Keys deleted at the source during the copy, deleted here too' },
] as const satisfies readonly MetricDecl[];

/** Gossip membership (cluster/gossip.ts), in the order prometheus-text.ts writes them. */
export const GOSSIP_METRICS = [
  { name: 'gossip_rounds_total', kind: 'counter', help: 'Gossip rounds this node started' },
  { name: 'gossip_messages_sent_total', kind: 'counter', help: 'DYNOPROXY.GOSSIP messages sent to peers' },
  { name: 'gossip_replies_total', kind: 'counter', help: 'Gossip replies received and merged' },
  { name: 'gossip_failed_total', kind: 'counter', help: 'Gossip messages that got no usable reply (peer down, error reply)' },
  { name: 'gossip_records_stale_total', kind: 'counter', help: 'Node records ignored because this node holds a newer version' },
  { name: 'gossip_nodes_added_total', kind: 'counter', help: 'Nodes gossip added to this node\'s view' },
  { name: 'gossip_version', kind: 'gauge', help: "This node's own gossip version (its clock in ms at its last round)" },
  {
    name: 'ring_move_phase', kind: 'gauge',
    help: 'POST /ring/move on this node: 0 idle, 1 leaving, 2 waiting (handoff_grace), 3 joining, 4 cleanup, 5 done, 6 failed',
  },
] as const satisfies readonly MetricDecl[];

export const GOSSIP_REFUSED_METRIC = {
  name: 'gossip_records_refused_total', kind: 'counter', help: 'Gossip records refused, by reason (malformed, flood, token-owned, address-claimed, too-many-nodes, bad-node)',
} as const satisfies MetricDecl;

/** Anti-entropy (cluster/repair.ts), summed over the runs of this process; the gauge is the current state. */
export const REPAIR_METRICS = [
  { name: 'repair_running', kind: 'gauge', help: '1 while an anti-entropy repair runs (POST /repair or repair_interval)' },
  { name: 'repair_runs_total', kind: 'counter', help: 'Anti-entropy repairs started' },
  { name: 'repair_keys_compared_total', kind: 'counter', help: "Keys of this node's range compared with the other racks (by bucket digests)" },
  { name: 'repair_keys_differing_total', kind: 'counter', help: 'Keys whose copies differed between racks at the first look' },
  { name: 'repair_keys_repaired_total', kind: 'counter', help: 'Keys rewritten (or deleted) on a rack to match the majority' },
  { name: 'repair_conflicts_total', kind: 'counter', help: 'Differing keys left alone: no copy held by more racks than another' },
  { name: 'repair_keys_skipped_total', kind: 'counter', help: 'Differing keys left alone because they changed during the repair (writes in flight)' },
  { name: 'repair_bytes_total', kind: 'counter', help: 'Bytes the repairs exchanged with the racks (requests and replies)' },
] as const satisfies readonly MetricDecl[];

export interface HistogramDecl {
  readonly name: string;
  readonly help: string;
  /** Upper bounds of the Prometheus buckets, in the metric's unit. */
  readonly buckets: readonly number[];
}

/** Histograms: latency per pool (merged hdr histograms), request size per node (control block). */
export const HISTOGRAM_METRICS = [
  {
    name: 'request_latency_seconds',
    help: 'Client-observed latency of requests answered by a backend, per pool',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  {
    name: 'request_size_bytes',
    help: 'Size of client requests as received (Dynomite payload_size)',
    buckets: [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216],
  },
] as const satisfies readonly HistogramDecl[];

type Names<T extends readonly MetricDecl[]> = T[number]['name'];
export type PoolMetric = Names<typeof POOL_METRICS>;
export type ServerMetric = Names<typeof SERVER_METRICS>;
export type WorkerMetric = Names<typeof WORKER_METRICS>;

function slots<T extends readonly MetricDecl[]>(decls: T): Record<Names<T>, number> {
  const r: Record<string, number> = {};
  decls.forEach((d, i) => (r[d.name] = i));
  return r as Record<Names<T>, number>;
}

/** Slot index of each metric inside its block. */
export const P = slots(POOL_METRICS);
export const S = slots(SERVER_METRICS);
export const W = slots(WORKER_METRICS);
