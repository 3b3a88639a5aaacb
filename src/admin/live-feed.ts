// LiveFeed: once a second, while someone watches, a snapshot of the node (state, ops/s, interval latency percentiles, errors, servers) pushed as server-sent events.
// Never samples when nobody listens, and never holds more than MAX_SUBSCRIBERS streams: the dashboard must not cost the data plane.
import type { ServerResponse } from 'node:http';
import { newLatencyHistogram, W, type Histogram, type PoolTotals } from '../stats/index.ts';
import type { AdminHost, AdminCluster } from './admin-host.ts';
import type { NodeControl } from './node-control.ts';

export const MAX_SUBSCRIBERS = 16;

export interface ServerSnapshot {
  name: string;
  /** up, ejected (auto_eject_hosts) or down (held down by /peer/down). */
  state: 'up' | 'ejected' | 'down';
  ops: number;
  errors: number;
  connections: number;
}

export interface PoolSnapshot {
  name: string;
  ops: number;
  errorsPerSec: number;
  /** Latency over the last interval, µs. */
  p50: number;
  p99: number;
  p999: number;
  clients: number;
  inFlight: number;
  writesHeld: number;
  servers: ServerSnapshot[];
}

export interface Snapshot {
  t: number;
  node: { name: string; state: string; dc: string; rack: string; tokens: string[]; uptime: number; workers: number; workerRestarts: number };
  pools: PoolSnapshot[];
  workers: { id: number; alive: boolean; restarts: number; loopDelayP99Ms: number }[];
  /** Cluster nodes: datacenters > racks > nodes with their liveness, and cross-DC replication figures; null on a single node. */
  cluster: {
    dcs: ReturnType<AdminCluster['describe']>['dcs']; replication: AdminCluster['replication']; warmUp: AdminCluster['warmUp'];
    move: NonNullable<AdminCluster['gossip']>['move'] | null;
  } | null;
}

export class LiveFeed {
  private readonly host: AdminHost;
  private readonly control: NodeControl;
  private readonly periodMs: number;
  private readonly subscribers = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private prev: { at: number; totals: PoolTotals[]; hists: Histogram[] } | null = null;
  private sampling = false;

  constructor(host: AdminHost, control: NodeControl, periodMs = 1000) {
    this.host = host;
    this.control = control;
    this.periodMs = periodMs;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Turn `res` into an event stream; false when the subscriber limit is reached. */
  subscribe(res: ServerResponse): boolean {
    if (this.subscribers.size >= MAX_SUBSCRIBERS) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 2000\n\n`);
    this.subscribers.add(res);
    res.on('close', () => {
      this.subscribers.delete(res);
      if (this.subscribers.size === 0) this.stop();
    });
    if (this.timer === null) {
      this.timer = setInterval(() => void this.tick(), this.periodMs);
      this.timer.unref();
    }
    void this.tick();
    return true;
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.prev = null;
  }

  close(): void {
    this.stop();
    for (const r of this.subscribers) r.end();
    this.subscribers.clear();
  }

  private async tick(): Promise<void> {
    // A slow histogram round must not pile up samples behind it.
    if (this.sampling) return;
    this.sampling = true;
    try {
      const snap = await this.snapshot();
      const line = `event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`;
      for (const r of this.subscribers) r.write(line);
    } catch (err) {
      this.host.log.warn({ err: (err as Error).message }, 'dashboard snapshot failed');
    } finally {
      this.sampling = false;
    }
  }

  /** Rates and percentiles over the time since the previous snapshot (zeros for the first). */
  async snapshot(): Promise<Snapshot> {
    const host = this.host;
    const hists = await host.latency(false);
    const totals = host.counters();
    const at = Date.now();
    const prev = this.prev;
    const dt = prev === null ? 0 : Math.max(0.001, (at - prev.at) / 1000);
    const rate = (now: number, before: number | undefined): number => (prev === null || before === undefined ? 0 : Math.max(0, now - before) / dt);
    const states = this.control.serverStates();
    const pools: PoolSnapshot[] = totals.map((p, i) => {
      const before = prev?.totals[i];
      const interval = intervalHistogram(hists[i], prev?.hists[i]);
      const q = (pct: number): number => (interval.totalCount === 0 ? 0 : interval.getValueAtPercentile(pct));
      return {
        name: p.name,
        ops: rate(p.metrics['requests_total'] ?? 0, before?.metrics['requests_total']),
        errorsPerSec: rate(p.metrics['request_errors_total'] ?? 0, before?.metrics['request_errors_total']),
        p50: q(50),
        p99: q(99),
        p999: q(99.9),
        clients: p.metrics['client_connections'] ?? 0,
        inFlight: p.metrics['requests_in_flight'] ?? 0,
        writesHeld: p.metrics['writes_held'] ?? 0,
        servers: p.servers.map((s, j) => {
          const st = states.find((x) => x.pool === p.name && x.name === s.name);
          const sb = before?.servers[j]?.metrics;
          return {
            name: s.name,
            state: st?.adminDown ? 'down' : st?.ejected ? 'ejected' : 'up',
            ops: rate(s.metrics['server_requests_total'] ?? 0, sb?.['server_requests_total']),
            errors: rate(s.metrics['server_errors_total'] ?? 0, sb?.['server_errors_total']),
            connections: s.metrics['server_connections'] ?? 0,
          };
        }),
      };
    });
    this.prev = { at, totals, hists: hists.map(copyHistogram) };
    const first = host.loadedConfig.pools[0];
    const slots = host.workerSlots();
    const cluster = host.cluster === null ? null : { dcs: host.cluster.describe().dcs, replication: host.cluster.replication, warmUp: host.cluster.warmUp, move: host.cluster.gossip?.move ?? null };
    return {
      cluster,
      t: at,
      node: {
        name: first !== undefined ? `${first.listen.host}:${first.listen.port}` : '',
        state: this.control.state,
        dc: first?.datacenter ?? '',
        rack: first?.rack ?? '',
        tokens: first?.tokens ?? [],
        uptime: Math.floor((at - host.startedAt) / 1000),
        workers: slots.filter((s) => s.alive).length,
        workerRestarts: host.workerRestarts,
      },
      pools,
      workers: slots.map((s) => ({ ...s, loopDelayP99Ms: host.control.workerMetrics(s.id)[W.worker_event_loop_delay_p99_seconds] * 1000 })),
    };
  }
}

function copyHistogram(h: Histogram): Histogram {
  const c = newLatencyHistogram();
  c.add(h);
  return c;
}

/** What was recorded since `before`; after /historeset the counts restart, so the whole histogram is the interval. */
function intervalHistogram(now: Histogram | undefined, before: Histogram | undefined): Histogram {
  const out = newLatencyHistogram();
  if (now === undefined) return out;
  out.add(now);
  if (before === undefined || before.totalCount > now.totalCount) return out;
  try {
    out.subtract(before);
  } catch {
    out.reset();
    out.add(now);
  }
  return out;
}
