// Bodies of Dynomite's /info and /cluster_describe for this node, laid out the way Dynomite's dyn_stats.c writes them but always valid JSON.
// Never invents a figure: what this node does not measure (mbufs, per-server read/write split) is left out or is the true zero of a node without peers.
import os from 'node:os';
import { C_STATE, NODE_STATES, POOL_METRICS, SERVER_METRICS, W, bucketMean, bucketPercentile, type Histogram, type PoolTotals } from '../stats/index.ts';
import type { AdminHost } from './admin-host.ts';
import type { NodeControl } from './node-control.ts';

export const VERSION = '0.1.0';

type Entry = [string, string | number | Entry[]];

/** Dynomite's stats_add_string writes `"k":"v",`, stats_add_num `"k":n,\n`, nesting `"k": {`. */
function render(entries: readonly Entry[]): string {
  const parts: string[] = [];
  for (const [k, v] of entries) {
    if (typeof v === 'string') parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)},`);
    else if (typeof v === 'number') parts.push(`${JSON.stringify(k)}:${Number.isFinite(v) ? Math.round(v) : 0},\n`);
    else parts.push(`${JSON.stringify(k)}: {${render(v)}},`);
  }
  const s = parts.join('');
  // Dynomite's stats_end_nesting trims the comma before a closing brace.
  return s.replace(/,(\n?)$/, '$1');
}

function mean(h: Histogram | undefined): number {
  return h === undefined || h.totalCount === 0 ? 0 : Math.round(h.mean);
}

function p99(h: Histogram | undefined): number {
  return h === undefined || h.totalCount === 0 ? 0 : h.getValueAtPercentile(99);
}

function latencyFigures(hists: readonly Histogram[], mergeInto: Histogram | null): Entry[] {
  const h = mergeInto;
  if (h !== null) for (const x of hists) h.add(x);
  const q = (p: number): number => (h === null || h.totalCount === 0 ? 0 : h.getValueAtPercentile(p));
  return [
    ['latency_max', h === null || h.totalCount === 0 ? 0 : h.maxValue],
    ['latency_999th', q(99.9)],
    ['latency_99th', q(99)],
    ['latency_95th', q(95)],
    ['latency_mean', h === null || h.totalCount === 0 ? 0 : h.mean],
  ];
}

function poolEntries(p: PoolTotals, statsCount: number): Entry[] {
  const m = p.metrics;
  const serversSum = (name: string): number => p.servers.reduce((a, s) => a + (s.metrics[name] ?? 0), 0);
  // Dynomite's STATS_POOL_CODEC names, where this proxy counts the same thing.
  const dyn: Entry[] = [
    ['client_eof', Math.max(0, (m['client_connections_total'] ?? 0) - (m['client_connections'] ?? 0) - (m['client_protocol_errors_total'] ?? 0))],
    ['client_err', m['client_protocol_errors_total'] ?? 0],
    ['client_connections', m['client_connections'] ?? 0],
    ['client_read_requests', m['read_requests_total'] ?? 0],
    ['client_write_requests', m['write_requests_total'] ?? 0],
    ['client_dropped_requests', m['state_rejected_total'] ?? 0],
    ['server_ejects', serversSum('server_ejections_total')],
    ['forward_error', serversSum('server_errors_total')],
    ['fragments', m['requests_split_total'] ?? 0],
    ['stats_count', statsCount],
  ];
  const ours: Entry[] = POOL_METRICS.map((d) => [d.name, m[d.name] ?? 0]);
  const servers: Entry[] = p.servers.map((s) => {
    const sm = s.metrics;
    const dynS: Entry[] = [
      ['server_err', sm['server_errors_total'] ?? 0],
      ['server_timedout', sm['server_timeouts_total'] ?? 0],
      ['server_connections', sm['server_connections'] ?? 0],
      ['server_timedout_requests', sm['server_timeouts_total'] ?? 0],
      ['in_queue', sm['server_in_flight'] ?? 0],
    ];
    return [s.name, [...dynS, ...SERVER_METRICS.map((d): Entry => [d.name, sm[d.name] ?? 0])]];
  });
  return [...dyn, ...ours, ...servers];
}

export interface InfoInputs {
  host: AdminHost;
  control: NodeControl;
  latency: readonly Histogram[];
  /** A fresh histogram to merge the pools into (the caller owns and may reuse it). */
  scratch: Histogram;
  statsCount: number;
}

/** GET /info (and GET /): Dynomite's header fields, then one object per pool with its servers inside. */
export function infoBody(x: InfoInputs): string {
  const { host } = x;
  const first = host.loadedConfig.pools[0];
  const now = Date.now();
  const ctl = host.control;
  const payload = ctl.payloadTotals();
  let allocMsgs = 0;
  let freeMsgs = 0;
  for (let w = 0; w < host.workerCount; w++) {
    const s = ctl.workerMetrics(w);
    allocMsgs += s[W.worker_requests_allocated];
    freeMsgs += s[W.worker_requests_free];
  }
  x.scratch.reset();
  const header: Entry[] = [
    ['service', 'dynoproxy'],
    ['source', os.hostname()],
    ['version', VERSION],
    ['uptime', Math.floor((now - host.startedAt) / 1000)],
    ['timestamp', Math.floor(now / 1000)],
    ['rack', first?.rack ?? ''],
    ['dc', first?.datacenter ?? ''],
    ...latencyFigures(x.latency, x.scratch),
    ['payload_size_max', maxBucket(payload)],
    ['payload_size_999th', bucketPercentile(payload, 99.9)],
    ['payload_size_99th', bucketPercentile(payload, 99)],
    ['payload_size_95th', bucketPercentile(payload, 95)],
    ['payload_size_mean', bucketMean(payload)],
    // Round trips over peer links (µs): other datacenters (region) and other racks of ours (zone); 0 on a single node.
    ['average_cross_region_rtt', mean(host.crossLatency?.region)],
    ['99_cross_region_rtt', p99(host.crossLatency?.region)],
    ['average_cross_zone_latency', mean(host.crossLatency?.zone)],
    ['99_cross_zone_latency', p99(host.crossLatency?.zone)],
    ['average_server_latency', 0],
    ['99_server_latency', 0],
    ['average_cross_region_queue_wait', 0],
    ['99_cross_region_queue_wait', 0],
    ['average_cross_zone_queue_wait', 0],
    ['99_cross_zone_queue_wait', 0],
    ['average_server_queue_wait', 0],
    ['99_server_queue_wait', 0],
    ['client_out_queue_99', 0],
    ['server_in_queue_99', 0],
    ['server_out_queue_99', 0],
    ['dnode_client_out_queue_99', 0],
    ['peer_in_queue_99', 0],
    ['peer_out_queue_99', 0],
    ['remote_peer_out_queue_99', 0],
    ['remote_peer_in_queue_99', 0],
    ['alloc_msgs', allocMsgs],
    ['free_msgs', freeMsgs],
    // No mbufs here: request bytes live in pooled Buffers, not Dynomite's fixed-size chains.
    ['alloc_mbufs', 0],
    ['free_mbufs', 0],
    ['dyn_memory', process.memoryUsage().rss],
    ['state', x.control.state],
    ['workers', host.workerSlots().filter((s) => s.alive).length],
    // Cross-datacenter replication through the cluster worker (0 on a single node).
    ['cross_region_writes_forwarded', host.cluster?.replication.forwarded ?? 0],
    ['cross_region_writes_dropped', host.cluster?.replication.dropped ?? 0],
    ['cross_region_queue_bytes', host.cluster?.replication.queued ?? 0],
    ['worker_restarts', host.workerRestarts],
    ...warmUpEntries(host),
    ...gossipEntries(host),
    ...repairEntries(host),
  ];
  const pools: Entry[] = host.counters().map((p) => [p.name, poolEntries(p, x.statsCount)]);
  return `{${render([...header, ...pools])}}\n`;
}

/** Warm-up progress (cluster/warm-up.ts) on a cluster node. */
function warmUpEntries(host: AdminHost): Entry[] {
  const w = host.cluster?.warmUp;
  if (w === null || w === undefined) return [];
  return [['warm_up', [
    ['phase', w.phase], ['enabled', w.enabled ? 'true' : 'false'], ['runs', w.runs], ['reason', w.reason], ['keys_copied', w.keysCopied],
    ['bytes_copied', w.bytesCopied], ['keys_skipped', w.keysSkipped], ['keys_failed', w.keysFailed], ['keys_mirrored', w.keysMirrored],
    ['keys_mirror_deleted', w.keysMirrorDeleted], ['keys_scanned', w.keysScanned],
    ['keys_expected', w.keysExpected], ['keys_per_second', w.keysPerSecond], ['eta_seconds', w.etaSeconds], ['sources', w.sources.join(',')],
    ['started_at', w.startedAt], ['finished_at', w.finishedAt], ['last_error', w.lastError],
  ]]];
}

/** Gossip membership figures (cluster/gossip.ts) on a cluster node. */
function gossipEntries(host: AdminHost): Entry[] {
  const g = host.cluster?.gossip;
  if (g === null || g === undefined) return [];
  return [['gossip', [
    ['enabled', g.enabled ? 'true' : 'false'], ['version', g.version], ['rounds', g.rounds], ['sent', g.sent], ['replies', g.replies], ['failed', g.failed],
    ['received', g.received], ['stale', g.stale], ['nodes_added', g.nodesAdded],
    ['refused', Object.entries(g.refused).map(([k, v]): Entry => [k, v])],
    ['join', g.join],
    ['move', [
      ['phase', g.move.phase], ['from', g.move.from], ['to', g.move.to], ['started_at', g.move.startedAt], ['finished_at', g.move.finishedAt],
      ['last_error', g.move.lastError],
    ]],
    ['cleanup', [
      ['running', g.cleanup.running ? 'true' : 'false'], ['runs', g.cleanup.runs], ['keys_scanned', g.cleanup.keysScanned],
      ['keys_deleted', g.cleanup.keysDeleted], ['started_at', g.cleanup.startedAt], ['finished_at', g.cleanup.finishedAt], ['last_error', g.cleanup.lastError],
    ]],
  ]]];
}

/** Anti-entropy (cluster/repair.ts): the current or last run on a cluster node. */
function repairEntries(host: AdminHost): Entry[] {
  const r = host.cluster?.repair;
  if (r === null || r === undefined) return [];
  return [['repair', [
    ['phase', r.phase], ['running', r.running ? 'true' : 'false'], ['runs', r.runs], ['reason', r.reason], ['range', r.range],
    ['racks', r.racks.join(',')], ['racks_skipped', r.racksSkipped.join(',')], ['buckets_compared', r.bucketsCompared],
    ['buckets_differing', r.bucketsDiffering], ['keys_scanned', r.keysScanned], ['keys_compared', r.keysCompared],
    ['keys_differing', r.keysDiffering], ['keys_repaired', r.keysRepaired], ['conflicts', r.conflicts], ['keys_skipped', r.keysSkipped],
    ['bytes', r.bytes], ['interval', r.interval], ['started_at', r.startedAt], ['finished_at', r.finishedAt], ['last_error', r.lastError],
  ]]];
}

function maxBucket(b: Float64Array): number {
  for (let i = b.length - 1; i >= 0; i--) if (b[i] > 0) return 2 ** i;
  return 0;
}

/**
 * GET /cluster_describe: Dynomite's dcs > racks > servers; a single node describes itself. Beside Dynomite's fields, what a
 * token-aware client needs: every token, dc/rack, the client port, this node's own state (node_state), the hash and hash tag.
 */
const MOVE_STATES = new Set(['joining', 'leaving', 'left']);

export function clusterDescribeBody(host: AdminHost): string {
  const own = (NODE_STATES[host.control.get(C_STATE)] ?? 'NORMAL').toLowerCase();
  if (host.cluster !== null) {
    const d = host.cluster.describe();
    // This node's admin state (standby, writes_only ...), unless a token move names it (joining, leaving, left).
    for (const dc of d.dcs) for (const r of dc.racks) for (const s of r.servers) if (s.local && !MOVE_STATES.has(s.node_state)) s.node_state = own;
    return `${JSON.stringify(d)}\n`;
  }
  const p = host.loadedConfig.pools[0];
  if (p === undefined) return '{"dcs":[]}\n';
  const token = p.tokens.length > 0 ? Number(p.tokens[0]) : 0;
  const server = {
    name: (p.dynListen ?? p.listen).host, host: os.hostname(), port: p.dynListen?.port ?? p.dynPort, token,
    dc: p.datacenter, rack: p.rack, tokens: [...p.tokens], client_port: p.listen.port, node_state: own, local: true,
  };
  const keying = { hash: p.hash, hash_tag: p.hashTag, data_store: p.dataStore === 0 ? 'redis' : 'memcache' };
  return `${JSON.stringify({ dcs: [{ name: p.datacenter, racks: [{ name: p.rack, servers: [server] }] }], ...keying })}\n`;
}
