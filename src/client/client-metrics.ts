// Per-node figures of the client: requests, errors, retries, failovers, shed, connections created/recycled, latency (HDR, µs).
// Never allocates per request beyond the histogram's own recording; figures are read only by stats() and metricsText().
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export class NodeMetrics {
  requests = 0;
  errors = 0;
  timeouts = 0;
  retries = 0;
  failovers = 0;
  shed = 0;
  created = 0;
  recycled = 0;
  /** Round trips in µs, 1 µs to 60 s, 3 significant digits. */
  readonly latency: Histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });

  recordLatency(startedMs: number): void {
    this.recordLatencyMs(performance.now() - startedMs);
  }

  /** A round trip already measured (ms), so the caller's clock reading is reused. */
  recordLatencyMs(ms: number): void {
    const us = Math.round(ms * 1000);
    this.latency.recordValue(us < 1 ? 1 : us > 60_000_000 ? 60_000_000 : us);
  }
}

/** What a node's pool reports at read time. */
export interface PoolFigures {
  connections: number;
  inUse: number;
  /** down, not NORMAL (its state), slow, or up. */
  health: string;
}

export interface NodeStats {
  node: string;
  dc: string;
  rack: string;
  health: string;
  connections: number;
  inUse: number;
  created: number;
  recycled: number;
  requests: number;
  errors: number;
  timeouts: number;
  retries: number;
  failovers: number;
  shed: number;
  latencyUs: { count: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

export interface ClientStats {
  nodes: NodeStats[];
  topology: { refreshes: number; refreshErrors: number; nodes: number; lastRefreshAt: number };
  /** Requests shed before a node was chosen (client quota). */
  shed: number;
}

const COUNTERS = [
  ['requests', 'requests_total', 'Requests (or micro-batches) sent to the node'],
  ['errors', 'errors_total', 'Requests that failed on the node (connection, timeout, node fault reply)'],
  ['timeouts', 'timeouts_total', 'Requests that timed out on the node'],
  ['retries', 'retries_total', 'Attempts after the first one sent to the node'],
  ['failovers', 'failovers_total', 'Requests the node served in place of an unavailable preferred replica'],
  ['shed', 'shed_total', 'Requests refused by an interceptor (quota) before reaching the node'],
  ['created', 'connections_created_total', 'Connections opened to the node'],
  ['recycled', 'connections_recycled_total', 'Connections closed after an error, a failed health check or idleness'],
] as const;

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition (format 0.0.4) of the client's stats. */
export function renderMetricsText(s: ClientStats, prefix = 'dyno_client'): string {
  const out: string[] = [];
  const labels = (n: NodeStats): string => `node="${label(n.node)}",dc="${label(n.dc)}",rack="${label(n.rack)}"`;
  const gauge = (name: string, help: string, pick: (n: NodeStats) => number): void => {
    out.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} gauge`);
    for (const n of s.nodes) out.push(`${prefix}_${name}{${labels(n)}} ${pick(n)}`);
  };
  gauge('connections', 'Open connections to the node', (n) => n.connections);
  gauge('connections_in_use', 'Requests in flight on the node', (n) => n.inUse);
  gauge('node_up', '1 when the client routes to the node, 0 while it is down, not NORMAL or slow', (n) => (n.health === 'up' ? 1 : 0));
  for (const [key, name, help] of COUNTERS) {
    out.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} counter`);
    for (const n of s.nodes) out.push(`${prefix}_${name}{${labels(n)}} ${n[key]}`);
  }
  out.push(`# HELP ${prefix}_latency_seconds Round trip per request to the node`, `# TYPE ${prefix}_latency_seconds summary`);
  for (const n of s.nodes) {
    for (const [q, v] of [['0.5', n.latencyUs.p50], ['0.9', n.latencyUs.p90], ['0.99', n.latencyUs.p99], ['0.999', n.latencyUs.p999]] as const) {
      out.push(`${prefix}_latency_seconds{${labels(n)},quantile="${q}"} ${v / 1e6}`);
    }
    out.push(`${prefix}_latency_seconds_sum{${labels(n)}} ${(n.latencyUs.mean * n.latencyUs.count) / 1e6}`);
    out.push(`${prefix}_latency_seconds_count{${labels(n)}} ${n.latencyUs.count}`);
  }
  out.push(`# HELP ${prefix}_shed_total Requests refused by the client quota before a node was chosen`, `# TYPE ${prefix}_shed_total counter`, `${prefix}_shed_total ${s.shed}`);
  out.push(`# HELP ${prefix}_topology_refreshes_total Topology refreshes from the seeds`, `# TYPE ${prefix}_topology_refreshes_total counter`, `${prefix}_topology_refreshes_total ${s.topology.refreshes}`);
  out.push(`# HELP ${prefix}_topology_refresh_errors_total Refreshes no seed answered`, `# TYPE ${prefix}_topology_refresh_errors_total counter`, `${prefix}_topology_refresh_errors_total ${s.topology.refreshErrors}`);
  return `${out.join('\n')}\n`;
}

export function nodeStats(node: { name: string; dc: string; rack: string }, m: NodeMetrics, p: PoolFigures): NodeStats {
  const h = m.latency;
  const count = h.totalCount;
  const at = (q: number): number => (count === 0 ? 0 : h.getValueAtPercentile(q));
  return {
    node: node.name, dc: node.dc, rack: node.rack, health: p.health, connections: p.connections, inUse: p.inUse,
    created: m.created, recycled: m.recycled, requests: m.requests, errors: m.errors, timeouts: m.timeouts, retries: m.retries,
    failovers: m.failovers, shed: m.shed,
    latencyUs: { count, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: count === 0 ? 0 : h.maxValue, mean: count === 0 ? 0 : Math.round(h.mean) },
  };
}
