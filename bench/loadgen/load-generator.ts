// Main side of the load generator: splits a run over piscina worker threads, starts them together, merges histograms.
// Never lets a run go unbounded: tasks carry their own deadlines, and a run that cannot start is called off.
import { Piscina } from 'piscina';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { LatencySummary, LoadMode, LoadReport, LoadTaskResult, LoadTaskSpec, Workload } from './load-spec.ts';
import { SYNC_BYTES, SYNC_GO, SYNC_INT32_SLOTS, SYNC_READY, SYNC_START_AT } from './load-spec.ts';

export interface LoadRunOptions {
  host: string;
  port: number;
  workload: Workload;
  /** Total connections, spread over the threads. */
  connections: number;
  pipeline: number;
  mode: LoadMode;
  /** Open loop: total intended requests per second. */
  ratePerSec?: number;
  /** Open loop: > 0 = sends on a fixed tick of this many µs from a ticker thread (default 100; replies are read as they arrive); 0 = send on reply arrivals and Node timers. */
  pacingUs?: number;
  warmupMs: number;
  durationMs: number;
  /** Ends the measured window early once this many replies were counted (all threads together). */
  maxRequests?: number;
  connectTimeoutMs?: number;
  /** How long every thread may take to open its connections. */
  readyTimeoutMs?: number;
}

export interface WindowHooks {
  /** Called (on this thread's timer) when the measured window begins and ends, e.g. to read /proc. */
  atStart?: () => void;
  atEnd?: () => void;
}

const taskFile = new URL('./load-task.ts', import.meta.url).href;

function decode(base64: string): Histogram {
  return hdr.decodeFromCompressedBase64(base64, 32, false);
}

/** Percentiles in µs of a histogram recorded in ns. */
export function summarize(h: Histogram): LatencySummary {
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  return {
    count: h.totalCount,
    mean: us(h.mean),
    p50: us(h.getValueAtPercentile(50)),
    p75: us(h.getValueAtPercentile(75)),
    p90: us(h.getValueAtPercentile(90)),
    p99: us(h.getValueAtPercentile(99)),
    p999: us(h.getValueAtPercentile(99.9)),
    p9999: us(h.getValueAtPercentile(99.99)),
    max: us(h.maxValue),
  };
}

function merged(parts: readonly (string | undefined)[]): Histogram | null {
  let total: Histogram | null = null;
  for (const p of parts) {
    if (p === undefined) continue;
    const h = decode(p);
    if (total === null) total = h;
    else total.add(h);
  }
  return total;
}

export class LoadGenerator {
  readonly threads: number;
  private readonly pool: Piscina;

  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be an integer >= 1, got ${threads}`);
    this.threads = threads;
    this.pool = new Piscina({ filename: taskFile, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, concurrentTasksPerWorker: 1 });
  }

  async run(o: LoadRunOptions, hooks: WindowHooks = {}): Promise<LoadReport> {
    if (o.mode === 'open' && !(o.ratePerSec !== undefined && o.ratePerSec > 0)) throw new Error('open loop needs ratePerSec > 0');
    if (o.connections < 1 || o.pipeline < 1) throw new Error('connections and pipeline must be >= 1');
    const tasks = Math.min(this.threads, o.connections);
    const sync = new SharedArrayBuffer(SYNC_BYTES);
    const flags = new Int32Array(sync, 0, SYNC_INT32_SLOTS);
    const startAt = new Float64Array(sync);
    const maxRequests = o.maxRequests ?? Number.MAX_SAFE_INTEGER;
    const specs: LoadTaskSpec[] = [];
    for (let i = 0; i < tasks; i++) {
      const connections = Math.floor(o.connections / tasks) + (i < o.connections % tasks ? 1 : 0);
      specs.push({
        host: o.host,
        port: o.port,
        workload: o.workload,
        connections,
        pipeline: o.pipeline,
        mode: o.mode,
        ratePerSec: ((o.ratePerSec ?? 0) * connections) / o.connections,
        pacingUs: o.pacingUs ?? 100,
        warmupMs: o.warmupMs,
        durationMs: o.durationMs,
        maxRequests: Math.max(1, Math.ceil((maxRequests * connections) / o.connections)),
        keyOffset: Math.floor((o.workload.keyCount * i) / tasks),
        connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
        sync,
        taskIndex: i,
      });
    }
    const settled: (LoadTaskResult | Error | undefined)[] = new Array(tasks).fill(undefined);
    const running = specs.map((spec, i) =>
      (this.pool.run(spec) as Promise<LoadTaskResult>).then(
        (r) => (settled[i] = r),
        (err: unknown) => (settled[i] = err instanceof Error ? err : new Error(String(err))),
      ),
    );
    // Go once every task has connected (or one has already given up).
    const readyDeadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
    while (Atomics.load(flags, SYNC_READY) < tasks && !settled.some((s) => s !== undefined) && Date.now() < readyDeadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    const go = Atomics.load(flags, SYNC_READY) >= tasks;
    const begin = performance.timeOrigin + performance.now() + 20;
    startAt[SYNC_START_AT] = begin;
    Atomics.store(flags, SYNC_GO, go ? 1 : -1);
    const windowStartMs = begin + o.warmupMs;
    const windowEndMs = windowStartMs + o.durationMs;
    const timers: NodeJS.Timeout[] = [];
    const epochNow = (): number => performance.timeOrigin + performance.now();
    if (go && hooks.atStart !== undefined) timers.push(setTimeout(hooks.atStart, windowStartMs - epochNow()));
    if (go && hooks.atEnd !== undefined) timers.push(setTimeout(hooks.atEnd, windowEndMs - epochNow()));
    await Promise.all(running);
    for (const t of timers) clearTimeout(t);
    const failure = settled.find((s): s is Error => s instanceof Error);
    if (failure !== undefined) throw failure;
    const results = settled as LoadTaskResult[];
    if (!go || results.some((r) => r.connected < r.connections)) {
      const why = results.find((r) => r.firstError !== undefined)?.firstError ?? 'threads not ready in time';
      throw new Error(`load run against ${o.host}:${o.port} did not start: ${why}`);
    }
    return this.report(o, results, windowStartMs, windowEndMs);
  }

  private report(o: LoadRunOptions, results: readonly LoadTaskResult[], windowStartMs: number, windowEndMs: number): LoadReport {
    const latency = merged(results.map((r) => r.latency))!;
    const service = merged(results.map((r) => r.serviceLatency));
    const lag = merged(results.map((r) => r.sendLag));
    const ops = results.reduce((s, r) => s + r.ops, 0);
    // Threads share one planned window, but one may stop early on its count bound: add per-thread rates.
    const opsPerSec = results.reduce((s, r) => s + (r.elapsedMs > 0 ? (r.ops * 1000) / r.elapsedMs : 0), 0);
    return {
      mode: o.mode,
      threads: results.length,
      connections: o.connections,
      pipeline: o.pipeline,
      targetRatePerSec: o.mode === 'open' ? (o.ratePerSec ?? null) : null,
      ops,
      opsPerSec,
      errorReplies: results.reduce((s, r) => s + r.errorReplies, 0),
      connectionErrors: results.reduce((s, r) => s + r.connectionErrors, 0),
      firstError: results.find((r) => r.firstError !== undefined)?.firstError,
      elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
      endedBy: results.map((r) => r.endedBy),
      latencyUs: summarize(latency),
      serviceLatencyUs: service === null ? null : summarize(service),
      sendLagUs: lag === null ? null : summarize(lag),
      maxBacklog: Math.max(...results.map((r) => r.maxBacklog)),
      windowStartMs,
      windowEndMs,
    };
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
