// What a load suite is to bench/run.ts, and the shared "same scenarios against every target" procedure.
// Never leaves a server running: targets started here are stopped here, the backend by the caller's ProcessGroup.
import type { LoadGenerator } from '../../loadgen/load-generator.ts';
import { fillKeys } from '../../loadgen/fill-keys.ts';
import type { Workload } from '../../loadgen/load-spec.ts';
import type { ProcessGroup } from '../../lib/process-group.ts';
import type { LaunchContext, RunningServer } from '../../lib/server-launchers.ts';
import { runInterleaved, summarizeRecords } from './rounds.ts';
import type { RoundOptions } from './rounds.ts';
import type { RunRecord, Scenario, SuiteResults, SummaryRow } from './suite-types.ts';
import { parseTargets, startBackend, startTarget, stopTargets } from './targets.ts';
import type { BackendKind, LiveTarget } from './targets.ts';

export interface SuiteOptions extends RoundOptions {
  threads: number;
  targets: string;
  /** Scenario ids to keep (all when empty). */
  only: string[];
  quick: boolean;
}

export interface SuiteContext {
  group: ProcessGroup;
  /** Scratch directory for configs, logs and profiles. */
  dir: string;
  gen: LoadGenerator;
  options: SuiteOptions;
  clockTicks: number;
  log: (line: string) => void;
}

/** What a suite fills in; bench/run.ts adds provenance (git, machine, versions, command, options). */
export type SuiteOutcome = Pick<SuiteResults, 'backend' | 'scenarios' | 'runs' | 'summary'> & { findings?: Record<string, unknown> };

export interface BenchSuite {
  name: string;
  description: string;
  defaults: { targets: string; rounds: number; warmupMs: number; durationMs: number };
  run(ctx: SuiteContext): Promise<SuiteOutcome>;
  /** SVG charts by short name; written as bench/results/charts/<suite>-<name>.svg. */
  charts(results: SuiteResults): Record<string, string>;
  /** Markdown of the suite's BENCHMARKS.md block. */
  render(file: string, results: SuiteResults): string;
}

export function workload(protocol: Workload['protocol'], command: Workload['command'], valueBytes: number, keyCount = 1000, mgetKeys = 10): Workload {
  return { protocol, command, valueBytes, keyCount, keyPrefix: `lg${valueBytes}`, mgetKeys };
}

/** Closed-loop scenario with an id like get-64-p1-c50 (4 KiB reads "4k"). */
export function closedScenario(protocol: Workload['protocol'], command: Workload['command'], valueBytes: number, pipeline: number, connections: number): Scenario {
  const size = valueBytes % 1024 === 0 ? `${valueBytes / 1024}k` : String(valueBytes);
  const name = command === 'mget' ? 'mget10' : command;
  return {
    id: `${name}-${size}-p${pipeline}-c${connections}`,
    label: `${name.toUpperCase()} ${valueBytes} B, pipeline ${pipeline}, ${connections} connections`,
    workload: workload(protocol, command, valueBytes),
    connections,
    pipeline,
    mode: 'closed',
  };
}

export function selectScenarios(all: readonly Scenario[], only: readonly string[]): Scenario[] {
  if (only.length === 0) return [...all];
  const picked = all.filter((s) => only.includes(s.id));
  const unknown = only.filter((id) => !all.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; this suite has ${all.map((s) => s.id).join(', ')}`);
  return picked;
}

/** Stores every key the reading scenarios will ask for, directly on the backend. */
export async function fillForReads(backend: RunningServer, scenarios: readonly Scenario[]): Promise<void> {
  const seen = new Set<string>();
  for (const s of scenarios) {
    if (s.workload.command === 'set') continue;
    const key = `${s.workload.protocol}:${s.workload.keyPrefix}:${s.workload.keyCount}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await fillKeys(backend.host, backend.port, s.workload);
  }
}

export async function startTargets(ctx: SuiteContext, launch: LaunchContext, backend: RunningServer, kind: BackendKind, names: string): Promise<LiveTarget[]> {
  const targets: LiveTarget[] = [];
  try {
    for (const spec of parseTargets(names)) {
      const t = await startTarget(launch, spec, backend, kind);
      if (!t.server.allWorkersListening) ctx.log(`warning: ${spec.name} has fewer listeners than workers`);
      if (t.proxy !== undefined) ctx.log(`${spec.name} pid ${t.proxy.process.pid} on ${t.server.port}`);
      targets.push(t);
    }
  } catch (err) {
    await stopTargets(targets);
    throw err;
  }
  return targets;
}

/** Backend + targets, keys filled, interleaved rounds, summary: the redis and memcached suites in one procedure. */
export async function compareTargets(ctx: SuiteContext, kind: BackendKind, scenarios: readonly Scenario[]): Promise<{ runs: RunRecord[]; summary: SummaryRow[] }> {
  const launch: LaunchContext = { group: ctx.group, dir: ctx.dir };
  const backend = await startBackend(launch, kind);
  ctx.log(`${kind} pid ${backend.process.pid} on ${backend.port}`);
  try {
    await fillForReads(backend, scenarios);
    const targets = await startTargets(ctx, launch, backend, kind, ctx.options.targets);
    try {
      const runs = await runInterleaved(ctx.gen, targets, backend, scenarios, ctx.options, ctx.log);
      return { runs, summary: summarizeRecords(runs, ctx.clockTicks) };
    } finally {
      await stopTargets(targets);
    }
  } finally {
    await backend.process.stop();
  }
}
