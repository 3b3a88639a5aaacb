// GET /metrics: Prometheus text exposition (version 0.0.4), every family derived from the declarations in stats/metrics.ts.
// Never declares a metric here: names, kinds and help come from the one declaration list, with the dynoproxy_ prefix added.
import {
  COMMAND_FAMILY_METRICS,
  HISTOGRAM_METRICS,
  NODE_METRICS,
  NODE_STATES,
  POOL_METRICS,
  SERVER_METRICS,
  REPLICA_FAILURES_METRIC,
  PEER_GAUGES,
  WORKER_METRICS,
  WARMUP_METRICS,
  GOSSIP_METRICS,
  GOSSIP_REFUSED_METRIC,
  REPAIR_METRICS,
  PAYLOAD_BUCKETS,
  type Histogram,
  type HistogramDecl,
  type MetricDecl,
  type PoolTotals,
} from '../stats/index.ts';
import type { AdminHost } from './admin-host.ts';

export const PREFIX = 'dynoproxy_';

/** Label values escape backslash, double quote and newline (exposition format). */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const ks = Object.keys(l);
  if (ks.length === 0) return '';
  return `{${ks.map((k) => `${k}="${esc(l[k])}"`).join(',')}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class TextWriter {
  readonly lines: string[] = [];

  family(d: { name: string; help: string }, type: string): void {
    this.lines.push(`# HELP ${PREFIX}${d.name} ${d.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${PREFIX}${d.name} ${type}`);
  }

  sample(name: string, l: Record<string, string>, v: number): void {
    this.lines.push(`${PREFIX}${name}${labels(l)} ${num(v)}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function decl<T extends readonly MetricDecl[]>(list: T, name: T[number]['name']): MetricDecl {
  return list.find((d) => d.name === name) as MetricDecl;
}

function histDecl(name: string): HistogramDecl {
  return HISTOGRAM_METRICS.find((d) => d.name === name) as HistogramDecl;
}

/** hdr histogram recorded in µs -> cumulative Prometheus buckets in seconds. */
function latencyBuckets(h: Histogram, bounds: readonly number[]): { counts: number[]; sum: number; count: number } {
  const counts = new Array<number>(bounds.length).fill(0);
  let sum = 0;
  const it = (h as unknown as { recordedValuesIterator: { reset(): void; hasNext(): boolean; next(): { valueIteratedTo: number; countAtValueIteratedTo: number } } })
    .recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    const seconds = v.valueIteratedTo / 1e6;
    sum += seconds * v.countAtValueIteratedTo;
    for (let i = 0; i < bounds.length; i++) if (seconds <= bounds[i]) counts[i] += v.countAtValueIteratedTo;
  }
  return { counts, sum, count: h.totalCount };
}

export interface MetricsInputs {
  host: AdminHost;
  totals: readonly PoolTotals[];
  latency: readonly Histogram[];
  stateName: string;
  adminRequests: number;
  adminRejected: number;
}

export function metricsText(x: MetricsInputs): string {
  const w = new TextWriter();
  const { host, totals } = x;
  for (const d of POOL_METRICS) {
    w.family(d, d.kind);
    for (const p of totals) w.sample(d.name, { pool: p.name }, p.metrics[d.name] ?? 0);
  }
  COMMAND_FAMILY_METRICS.forEach((d, k) => {
    w.family(d, d.kind);
    for (const p of totals)
      for (const [family, g] of Object.entries(p.groups)) {
        const v = k === 0 ? g.requests : g.errors;
        // Families never used stay out: Prometheus would keep a hundred zero series per pool.
        if (g.requests > 0 || g.errors > 0) w.sample(d.name, { pool: p.name, family }, v);
      }
  });
  for (const d of SERVER_METRICS) {
    w.family(d, d.kind);
    for (const p of totals) for (const s of p.servers) w.sample(d.name, { pool: p.name, server: s.name }, s.metrics[d.name] ?? 0);
    // Links to other cluster nodes carry the same figures, labelled by peer.
    for (const p of totals) for (const s of p.peers) w.sample(d.name, { pool: p.name, peer: s.name }, s.metrics[d.name] ?? 0);
  }
  for (const d of PEER_GAUGES) {
    w.family(d, d.kind);
    for (const p of totals) for (const s of p.peers) w.sample(d.name, { pool: p.name, peer: s.name }, s.gauges[d.name] ?? 0);
  }
  w.family(REPLICA_FAILURES_METRIC, REPLICA_FAILURES_METRIC.kind);
  for (const p of totals) for (const s of p.peers) for (const [code, v] of Object.entries(s.failures)) w.sample(REPLICA_FAILURES_METRIC.name, { pool: p.name, peer: s.name, code }, v);
  const lat = histDecl('request_latency_seconds');
  w.family(lat, 'histogram');
  totals.forEach((p, i) => {
    const h = x.latency[i];
    if (h === undefined) return;
    const b = latencyBuckets(h, lat.buckets);
    lat.buckets.forEach((le, k) => w.sample(`${lat.name}_bucket`, { pool: p.name, le: num(le) }, b.counts[k]));
    w.sample(`${lat.name}_bucket`, { pool: p.name, le: '+Inf' }, b.count);
    w.sample(`${lat.name}_sum`, { pool: p.name }, b.sum);
    w.sample(`${lat.name}_count`, { pool: p.name }, b.count);
  });
  const size = histDecl('request_size_bytes');
  w.family(size, 'histogram');
  const payload = host.control.payloadTotals();
  let total = 0;
  let sum = 0;
  const cum = size.buckets.map(() => 0);
  for (let i = 0; i < PAYLOAD_BUCKETS; i++) {
    const upper = 2 ** i;
    total += payload[i];
    sum += payload[i] * (i === 0 ? 1 : 0.75 * upper);
    size.buckets.forEach((le, k) => {
      if (upper <= le) cum[k] += payload[i];
    });
  }
  size.buckets.forEach((le, k) => w.sample(`${size.name}_bucket`, { le: num(le) }, cum[k]));
  w.sample(`${size.name}_bucket`, { le: '+Inf' }, total);
  // Sizes are kept in power-of-two buckets: the sum is estimated from the middle of each bucket.
  w.sample(`${size.name}_sum`, {}, sum);
  w.sample(`${size.name}_count`, {}, total);
  const slots = host.workerSlots();
  WORKER_METRICS.forEach((d, k) => {
    w.family(d, d.kind);
    for (const s of slots) if (s.alive) w.sample(d.name, { worker: String(s.id) }, host.control.workerMetrics(s.id)[k]);
  });
  w.family(decl(NODE_METRICS, 'node_state'), 'gauge');
  for (const st of NODE_STATES) w.sample('node_state', { state: st }, st === x.stateName ? 1 : 0);
  w.family(decl(NODE_METRICS, 'worker_restarts_total'), 'counter');
  w.sample('worker_restarts_total', {}, host.workerRestarts);
  w.family(decl(NODE_METRICS, 'workers'), 'gauge');
  w.sample('workers', {}, slots.filter((s) => s.alive).length);
  w.family(decl(NODE_METRICS, 'admin_requests_total'), 'counter');
  w.sample('admin_requests_total', {}, x.adminRequests);
  w.family(decl(NODE_METRICS, 'admin_rejected_total'), 'counter');
  w.sample('admin_rejected_total', {}, x.adminRejected);
  w.family(decl(NODE_METRICS, 'uptime_seconds'), 'gauge');
  w.sample('uptime_seconds', {}, (Date.now() - host.startedAt) / 1000);
  const wu = host.cluster?.warmUp;
  if (wu !== null && wu !== undefined) {
    const phase = { idle: 0, writes_only: 1, resuming: 2, failed: 3, joining: 4, leaving: 5 }[wu.phase];
    const values = [phase, wu.runs, wu.keysCopied, wu.bytesCopied, wu.keysSkipped, wu.keysFailed, wu.keysExpected, wu.etaSeconds, wu.keysMirrored, wu.keysMirrorDeleted];
    WARMUP_METRICS.forEach((d, k) => {
      w.family(d, d.kind);
      w.sample(d.name, {}, values[k]);
    });
  }
  const g = host.cluster?.gossip;
  if (g !== null && g !== undefined && g.enabled) {
    const movePhase = ['idle', 'leaving', 'waiting', 'joining', 'cleanup', 'done', 'failed'].indexOf(g.move.phase);
    const values = [g.rounds, g.sent, g.replies, g.failed, g.stale, g.nodesAdded, g.version, movePhase];
    GOSSIP_METRICS.forEach((d, k) => {
      w.family(d, d.kind);
      w.sample(d.name, {}, values[k]);
    });
    w.family(GOSSIP_REFUSED_METRIC, 'counter');
    for (const reason of ['malformed', 'flood', 'token-owned', 'address-claimed', 'too-many-nodes', 'bad-node']) w.sample(GOSSIP_REFUSED_METRIC.name, { reason }, g.refused[reason] ?? 0);
  }
  const rp = host.cluster?.repair;
  if (rp !== null && rp !== undefined) {
    const t = rp.total;
    const values = [rp.running ? 1 : 0, t.runs, t.keysCompared, t.keysDiffering, t.keysRepaired, t.conflicts, t.keysSkipped, t.bytes];
    REPAIR_METRICS.forEach((d, k) => {
      w.family(d, d.kind);
      w.sample(d.name, {}, values[k]);
    });
  }
  return w.text();
}
