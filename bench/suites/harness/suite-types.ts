// Shape of a bench/results/*-loadgen-<suite>.json file, shared by the suites, the report and the charts.
// Never change a field's meaning in place: add a field, or bump `schema` and keep old readers working.
import type { MachineInfo } from '../../lib/machine-info.ts';
import type { LatencySummary, LoadMode, Workload } from '../../loadgen/load-spec.ts';

export interface Scenario {
  /** Short stable id, e.g. "get-64-p1-c50". */
  id: string;
  label: string;
  workload: Workload;
  connections: number;
  pipeline: number;
  mode: LoadMode;
  /** Open loop: total intended rate. */
  ratePerSec?: number;
}

export interface RunRecord {
  round: number;
  scenario: string;
  target: string;
  ops: number;
  opsPerSec: number;
  elapsedMs: number;
  latencyUs: LatencySummary;
  serviceLatencyUs: LatencySummary | null;
  sendLagUs: LatencySummary | null;
  errorReplies: number;
  connectionErrors: number;
  firstError: string | undefined;
  endedBy: string[];
  quietWaitMs: number;
  /** utime+stime ticks over the measured window; null for direct. */
  proxyCpuTicks: number | null;
  backendCpuTicks: number;
  /** This process (the load generator's threads and the runner). */
  clientCpuTicks: number;
  /** Busy ticks of the machine not spent by the client, the backend or the proxy. */
  otherCpuTicks: number;
  machineCpuTicks: number;
  proxyRssKb: number | null;
}

export interface SummaryRow {
  scenario: string;
  target: string;
  rounds: number;
  /** Median over rounds. */
  opsPerSec: number;
  /** (max - min) / median over rounds. */
  spread: number;
  /** Each percentile is the median of that percentile over rounds. */
  latencyUs: Omit<LatencySummary, 'count'>;
  /** Pooled: sum of ticks over rounds / sum of requests. */
  proxyCpuUsPerRequest: number | null;
  backendCpuUsPerRequest: number;
  clientCpuUsPerRequest: number;
  proxyRssKb: number | null;
  otherLoad: number;
  vsDirect: number | null;
  vsTwemproxy: number | null;
  errors: number;
}

export interface SuiteResults {
  suite: string;
  schema: 1;
  startedAt: string;
  finishedAt: string;
  git: { commit: string; dirty: boolean };
  machine: MachineInfo;
  versions: Record<string, string>;
  command: string;
  options: {
    rounds: number;
    warmupMs: number;
    durationMs: number;
    threads: number;
    targets: string[];
    quiet: { threshold: number; perRunMs: number; totalMs: number };
    /** Open-loop schedule tick, µs. */
    pacingUs?: number;
  };
  clockTicksPerSecond: number;
  backend: 'redis' | 'memcached';
  scenarios: Scenario[];
  runs: RunRecord[];
  summary: SummaryRow[];
  /** Suite-specific findings (latency added, sweep recommendation...). */
  findings?: Record<string, unknown>;
  /** SVG files written for this run, relative to the repository root. */
  charts?: string[];
  /** Load average (1 min) when the run started and ended. */
  loadAverage?: [number, number];
}
