// Shape of a bench/results/*-redis-benchmark.json file, shared by the runner and the report.
// Never change a field's meaning in place: add a field, or bump `schema` and keep old readers working.
import type { MachineInfo } from '../lib/machine-info.ts';

export const suiteName = 'redis-benchmark';

export interface ThroughputRun {
  round: number;
  pipeline: number;
  target: string;
  /** redis-benchmark test name: "SET" or "GET". */
  test: string;
  requests: number;
  rps: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  elapsedMs: number;
  /** Time spent before the run waiting for other processes to leave the CPUs alone. */
  quietWaitMs: number;
  /** utime+stime ticks of the proxy over this run; null for the direct target. */
  proxyCpuTicks: number | null;
  redisCpuTicks: number;
  /** redis-benchmark's own CPU (it is reaped by the time we read it). */
  clientCpuTicks: number;
  /** Busy CPU of the whole machine not spent by the client, Redis, the proxy or this runner. */
  otherCpuTicks: number;
  /** Capacity of the run: elapsed ticks times CPUs, busy or idle. */
  machineCpuTicks: number;
  proxyRssKb: number | null;
}

export interface ThroughputSummary {
  pipeline: number;
  target: string;
  test: string;
  rounds: number;
  /** Median over rounds. */
  rps: number;
  /** (max - min) / median over rounds. */
  rpsSpread: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  /** Sum of CPU over all rounds divided by the sum of requests: pooled, so tick rounding averages out. */
  proxyCpuUsPerRequest: number | null;
  redisCpuUsPerRequest: number;
  clientCpuUsPerRequest: number;
  /** Median share of the machine's CPU used by processes outside the benchmark: noise when high. */
  otherLoad: number;
  /** Largest VmRSS of the proxy sampled after any run of this pipeline and test. */
  proxyRssKb: number | null;
}

export interface IdleResult {
  target: string;
  workers: number;
  requested: number;
  connected: number;
  failed: number;
  firstError: string | undefined;
  /** Connections the server had accepted (open fds grew by this much) when RSS was read. */
  accepted: number;
  closedByPeer: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  peakRssKb: number;
  connectMs: number;
}

export interface RedisBenchmarkResults {
  suite: typeof suiteName;
  schema: 1;
  startedAt: string;
  finishedAt: string;
  git: { commit: string; dirty: boolean };
  machine: MachineInfo;
  versions: Record<string, string>;
  /** The command line that produced this file. */
  command: string;
  options: {
    rounds: number;
    requests: number;
    clients: number;
    pipelines: number[];
    targets: string[];
    idle: number;
    /** Quiet-machine wait before each run: others' CPU share threshold, per-run and total limits in ms. */
    quiet?: { threshold: number; perRunMs: number; totalMs: number };
  };
  clockTicksPerSecond: number;
  throughput?: {
    /** redis-benchmark invocation with placeholders for the per-run values. */
    redisBenchmarkCommand: string;
    allWorkersListening: Record<string, boolean>;
    runs: ThroughputRun[];
    summary: ThroughputSummary[];
  };
  idle?: {
    connections: number;
    results: IdleResult[];
  };
}
