// Runs load scenarios against every target in interleaved rounds (A B C A B C) and reads CPU and RSS from /proc.
// Never runs all rounds of one target back to back, and never measures outside the load generator's window.
import type { LoadGenerator } from '../../loadgen/load-generator.ts';
import type { LoadReport } from '../../loadgen/load-spec.ts';
import { median, relativeSpread } from '../../lib/median.ts';
import { readCpuTicks, readRssKb, readSystemCpuTicks } from '../../lib/proc-stats.ts';
import { waitForQuietMachine } from '../../lib/quiet-machine.ts';
import { assertServing } from '../../lib/server-launchers.ts';
import type { RunningServer } from '../../lib/server-launchers.ts';
import type { LiveTarget } from './targets.ts';
import type { RunRecord, Scenario, SummaryRow } from './suite-types.ts';

export interface RoundOptions {
  rounds: number;
  warmupMs: number;
  durationMs: number;
  /** Unmeasured run of each scenario on each target before round 1, ms (0 skips). */
  primeMs: number;
  quiet: { threshold: number; perRunMs: number; totalMs: number };
  /** Open loop tick in µs. */
  pacingUs?: number;
}

interface Sample {
  proxy: number;
  backend: number;
  self: number;
  busy: number;
  total: number;
}

function proxiesOf(target: LiveTarget): RunningServer[] {
  return target.proxies ?? (target.proxy === undefined ? [] : [target.proxy]);
}

function backendsOf(target: LiveTarget, backend: RunningServer): RunningServer[] {
  return target.backends ?? [backend];
}

const sumTicks = (servers: readonly RunningServer[]): number => servers.reduce((s, x) => s + readCpuTicks(x.process.pid), 0);

function sample(target: LiveTarget, backend: RunningServer): Sample {
  const system = readSystemCpuTicks();
  return {
    proxy: sumTicks(proxiesOf(target)),
    backend: sumTicks(backendsOf(target, backend)),
    self: readCpuTicks(process.pid),
    busy: system.busy,
    total: system.total,
  };
}

function assertAlive(target: LiveTarget, backend: RunningServer): void {
  for (const p of proxiesOf(target)) assertServing(p);
  for (const b of backendsOf(target, backend)) assertServing(b);
}

/** One measured load run on one target, with /proc read at the window's edges. */
export async function measureOnce(
  gen: LoadGenerator,
  target: LiveTarget,
  backend: RunningServer,
  scenario: Scenario,
  options: Pick<RoundOptions, 'warmupMs' | 'durationMs' | 'pacingUs'>,
): Promise<{ report: LoadReport; before: Sample; after: Sample }> {
  assertAlive(target, backend);
  let before: Sample | undefined;
  let after: Sample | undefined;
  const report = await gen.run({
    host: target.server.host,
    port: target.server.port,
    workload: scenario.workload,
    connections: scenario.connections,
    pipeline: scenario.pipeline,
    mode: scenario.mode,
    ratePerSec: scenario.ratePerSec,
    pacingUs: options.pacingUs,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
  }, {
    atStart: () => (before = sample(target, backend)),
    atEnd: () => (after = sample(target, backend)),
  });
  // A window cut short by its count bound ends before the planned end: read now.
  after ??= sample(target, backend);
  assertAlive(target, backend);
  if (before === undefined) throw new Error('the measured window never started');
  return { report, before, after };
}

export async function runInterleaved(
  gen: LoadGenerator,
  targets: readonly LiveTarget[],
  backend: RunningServer,
  scenarios: readonly Scenario[],
  options: RoundOptions,
  log: (line: string) => void,
): Promise<RunRecord[]> {
  if (options.primeMs > 0) {
    log(`priming: ${options.primeMs} ms of each scenario on each target, unmeasured`);
    for (const scenario of scenarios) {
      for (const target of targets) await measureOnce(gen, target, backend, scenario, { warmupMs: 0, durationMs: options.primeMs, pacingUs: options.pacingUs });
    }
  }
  const ownPids = [process.pid, ...new Set(targets.flatMap((t) => [...proxiesOf(t), ...backendsOf(t, backend)]).map((s) => s.process.pid))];
  let quietBudgetMs = options.quiet.totalMs;
  const records: RunRecord[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      for (const target of targets) {
        let quietWaitMs = 0;
        if (options.quiet.perRunMs > 0 && quietBudgetMs > 0) {
          const wait = await waitForQuietMachine({
            threshold: options.quiet.threshold,
            maxWaitMs: Math.min(options.quiet.perRunMs, quietBudgetMs),
            windowMs: 200,
            ownPids,
          });
          quietWaitMs = wait.waitedMs;
          quietBudgetMs -= wait.waitedMs;
        }
        const { report, before, after } = await measureOnce(gen, target, backend, scenario, options);
        const proxyTicks = after.proxy - before.proxy;
        const backendTicks = after.backend - before.backend;
        const selfTicks = after.self - before.self;
        const record: RunRecord = {
          round,
          scenario: scenario.id,
          target: target.spec.name,
          ops: report.ops,
          opsPerSec: report.opsPerSec,
          elapsedMs: report.elapsedMs,
          latencyUs: report.latencyUs,
          serviceLatencyUs: report.serviceLatencyUs,
          sendLagUs: report.sendLagUs,
          errorReplies: report.errorReplies,
          connectionErrors: report.connectionErrors,
          firstError: report.firstError,
          endedBy: report.endedBy,
          quietWaitMs,
          proxyCpuTicks: target.proxy === undefined ? null : proxyTicks,
          backendCpuTicks: backendTicks,
          clientCpuTicks: selfTicks,
          // Ticks are read at slightly different instants per process, so a quiet machine can read a little below 0.
          otherCpuTicks: Math.max(0, after.busy - before.busy - proxyTicks - backendTicks - selfTicks),
          machineCpuTicks: after.total - before.total,
          proxyRssKb: target.proxy === undefined ? null : readRssKb(target.proxy.process.pid),
        };
        records.push(record);
        log(formatRecord(record));
      }
    }
  }
  return records;
}

export function formatRecord(r: RunRecord): string {
  const other = Math.round((100 * r.otherCpuTicks) / Math.max(1, r.machineCpuTicks));
  const proxy = r.proxyCpuTicks === null ? '' : `  proxy ${r.proxyCpuTicks} ticks`;
  const errs = r.errorReplies + r.connectionErrors > 0 ? `  ERRORS ${r.errorReplies}/${r.connectionErrors} ${r.firstError ?? ''}` : '';
  return `round ${r.round} ${r.scenario.padEnd(22)} ${r.target.padEnd(14)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(10)} ops/s  p50 ${r.latencyUs.p50} p99 ${r.latencyUs.p99} µs${proxy}  backend ${r.backendCpuTicks}  client ${r.clientCpuTicks}  other ${other}%${errs}`;
}

const percentileKeys = ['mean', 'p50', 'p75', 'p90', 'p99', 'p999', 'p9999', 'max'] as const;

/** One row per (scenario, target) in first-seen order, with medians and ratios to direct and twemproxy. */
export function summarizeRecords(records: readonly RunRecord[], clockTicks: number): SummaryRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.scenario}\u0000${r.target}`;
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(r);
  }
  const us = (ticks: number, requests: number): number => ((ticks / clockTicks) * 1e6) / Math.max(1, requests);
  const rows: SummaryRow[] = [...groups.values()].map((list) => {
    const first = list[0]!;
    const requests = list.reduce((s, r) => s + r.ops, 0);
    const latency = {} as SummaryRow['latencyUs'];
    for (const k of percentileKeys) latency[k] = median(list.map((r) => r.latencyUs[k]));
    const rss = list.map((r) => r.proxyRssKb).filter((v): v is number => v !== null);
    return {
      scenario: first.scenario,
      target: first.target,
      rounds: list.length,
      opsPerSec: median(list.map((r) => r.opsPerSec)),
      spread: relativeSpread(list.map((r) => r.opsPerSec)),
      latencyUs: latency,
      proxyCpuUsPerRequest: first.proxyCpuTicks === null ? null : us(list.reduce((s, r) => s + (r.proxyCpuTicks ?? 0), 0), requests),
      backendCpuUsPerRequest: us(list.reduce((s, r) => s + r.backendCpuTicks, 0), requests),
      clientCpuUsPerRequest: us(list.reduce((s, r) => s + r.clientCpuTicks, 0), requests),
      proxyRssKb: rss.length === 0 ? null : Math.max(...rss),
      otherLoad: median(list.map((r) => r.otherCpuTicks / Math.max(1, r.machineCpuTicks))),
      vsDirect: null,
      vsTwemproxy: null,
      errors: list.reduce((s, r) => s + r.errorReplies + r.connectionErrors, 0),
    };
  });
  for (const row of rows) {
    const direct = rows.find((r) => r.scenario === row.scenario && r.target === 'direct');
    const twem = rows.find((r) => r.scenario === row.scenario && r.target === 'twemproxy');
    row.vsDirect = direct === undefined ? null : row.opsPerSec / direct.opsPerSec;
    row.vsTwemproxy = twem === undefined ? null : row.opsPerSec / twem.opsPerSec;
  }
  return rows;
}
