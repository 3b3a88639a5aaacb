// Shape of a bench/results/*-memcached-benchmark.json file, shared by the runner and the report.
// Never change a field's meaning in place: add a field, or bump `schema` and keep old readers working.
import type { MachineInfo } from '../lib/machine-info.ts';

export const suiteName = 'memcached-benchmark';

export interface McThroughputRun {
  round: number;
  pipeline: number;
  target: string;
  /** "SET" or "GET". */
  test: string;
  requests: number;
  rps: number;
  /** Median and 99th percentile of the batch round trip (one request at pipeline 1), ms. */
  p50LatencyMs: number;
  p99LatencyMs: number;
  elapsedMs: number;
  quietWaitMs: number;
  /** utime+stime ticks of the proxy over the run; null for the direct target. */
  proxyCpuTicks: number | null;
  memcachedCpuTicks: number;
  /** This process: the load client's threads (and the runner, idle meanwhile). */
  clientCpuTicks: number;
  /** Busy CPU of the whole machine not spent by the client, memcached or the proxy. */
  otherCpuTicks: number;
  machineCpuTicks: number;
  proxyRssKb: number | null;
}

export interface McThroughputSummary {
  pipeline: number;
  target: string;
  test: string;
  rounds: number;
  rps: number;
  rpsSpread: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  proxyCpuUsPerRequest: number | null;
  memcachedCpuUsPerRequest: number;
  clientCpuUsPerRequest: number;
  otherLoad: number;
  proxyRssKb: number | null;
}

export interface McBenchmarkResults {
  suite: typeof suiteName;
  schema: 1;
  startedAt: string;
  finishedAt: string;
  git: { commit: string; dirty: boolean };
  machine: MachineInfo;
  versions: Record<string, string>;
  command: string;
  options: {
    rounds: number;
    requests: number;
    clients: number;
    pipelines: number[];
    targets: string[];
    keys: number;
    valueSize: number;
    clientThreads: number;
    quiet: { threshold: number; perRunMs: number; totalMs: number };
  };
  clockTicksPerSecond: number;
  throughput?: {
    /** What the load client does, in words (it is ours, not a published tool). */
    client: string;
    allWorkersListening: Record<string, boolean>;
    runs: McThroughputRun[];
    summary: McThroughputSummary[];
  };
}
