// Renders the common parts of a load suite's BENCHMARKS.md block: provenance, machine, method, the summary table.
// Never measures anything: it reads only the results object it is given.
import { markdownTable } from '../../lib/benchmarks-doc.ts';
import type { SuiteResults, SummaryRow } from './suite-types.ts';

export const int = (n: number | null | undefined): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
export const fixed = (n: number | null | undefined, digits: number): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
export const pct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : '–');

export function provenance(file: string, d: SuiteResults): string {
  const when = d.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const dirty = d.git.dirty ? ' with uncommitted changes in src/' : '';
  const load = d.loadAverage === undefined ? '' : `; load average ${d.loadAverage[0].toFixed(1)} at start, ${d.loadAverage[1].toFixed(1)} at end`;
  return `Results: \`bench/results/${file}\` (${when}, commit \`${d.git.commit.slice(0, 10)}\`${dirty}${load}).`;
}

export function machineLine(d: SuiteResults): string {
  const m = d.machine;
  const versions = Object.entries(d.versions).map(([tool, v]) => `${tool}: ${v}`).join('; ');
  return `- Machine: ${m.cpuModel}, ${m.cores} logical cores, ${Math.round(m.memoryMiB / 1024)} GiB RAM, Linux ${m.kernel}; ${versions}`;
}

export function methodLines(d: SuiteResults): string[] {
  const o = d.options;
  const waited = d.runs.reduce((s, r) => s + r.quietWaitMs, 0) / 1000;
  return [
    `- Load generator: \`bench/loadgen/\`, ${o.threads} piscina worker thread(s) in the runner's process, raw sockets, prebuilt`,
    '  requests; closed loop = each connection writes `pipeline` requests at once and writes the next batch when',
    '  all are answered (as redis-benchmark does); latency per reply from its batch\'s write, into HDR histograms.',
    `- Interleaved: every round runs each scenario on every target in turn (A B C A B C); ${o.rounds} rounds after one unmeasured`,
    `  priming run per scenario and target; each run is ${o.warmupMs} ms warm-up then ${o.durationMs} ms measured. ops/s and each`,
    '  latency percentile are medians over rounds; (n%) is the ops/s spread, (max − min) / median.',
    '- CPU µs/request: utime + stime of the whole process from `/proc/<pid>/stat` at the two edges of each measured',
    `  window, pooled over rounds (1/${d.clockTicksPerSecond} s ticks). "backend CPU" is the datastore's own cost per request behind that target.`,
    '- proxy RSS: VmRSS read after each run, largest over the rounds; a proxy keeps what earlier scenarios made it grow',
    '  (nutcracker never returns its mbufs), so the 1000-connection and 4 KiB runs set it for every row after them.',
    '- "other load": median share of all cores used by processes outside the benchmark during the windows. Above a few',
    '  percent the row is noisy: the machine is shared with other engineers\' builds and tests.',
    ...(o.quiet.perRunMs > 0
      ? [`- Before each run the runner waited up to ${o.quiet.perRunMs / 1000} s (${o.quiet.totalMs / 1000} s in all) for other load to fall to ${Math.round(o.quiet.threshold * 100)}%; it waited ${waited.toFixed(0)} s in all.`]
      : []),
    `- Produced by: \`${d.command}\`. Rerun the same way (\`npm run bench -- --help\` lists suites and options); add`,
    `  \`--report-only\` to rewrite this block from the newest \`bench/results/*-loadgen-${d.suite}.json\`.`,
  ];
}

/** The main table: one row per scenario and target. */
export function summaryTable(d: SuiteResults, rows: readonly SummaryRow[] = d.summary): string {
  const hasDirect = rows.some((r) => r.target === 'direct');
  const hasTwem = rows.some((r) => r.target === 'twemproxy');
  const header = ['scenario', 'target', 'ops/s (spread)'];
  if (hasDirect) header.push('vs direct');
  if (hasTwem) header.push('vs twemproxy');
  header.push('p50 / p99 / p99.9 µs', 'proxy CPU µs/req', 'backend CPU µs/req', 'proxy RSS MiB', 'other load', 'errors');
  const body = rows.map((r) => {
    const cells = [r.scenario, r.target, `${int(r.opsPerSec)} (${pct(r.spread)})`];
    if (hasDirect) cells.push(fixed(r.vsDirect, 2));
    if (hasTwem) cells.push(fixed(r.vsTwemproxy, 2));
    cells.push(
      `${fixed(r.latencyUs.p50, 0)} / ${fixed(r.latencyUs.p99, 0)} / ${fixed(r.latencyUs.p999, 0)}`,
      fixed(r.proxyCpuUsPerRequest, 2),
      fixed(r.backendCpuUsPerRequest, 2),
      r.proxyRssKb === null ? '–' : (r.proxyRssKb / 1024).toFixed(1),
      pct(r.otherLoad),
      String(r.errors),
    );
    return cells;
  });
  return markdownTable(header, body, header.map((_, i) => (i < 2 ? 'l' : 'r')));
}

export function scenarioList(d: SuiteResults): string[] {
  return d.scenarios.map((s) => {
    const w = s.workload;
    const what = w.command === 'mget' ? `${w.protocol === 'resp' ? 'MGET' : 'get'} of ${w.mgetKeys} keys (${w.valueBytes} B values)` : `${w.command.toUpperCase()} ${w.valueBytes} B values`;
    const load = s.mode === 'open' ? `open loop at ${int(s.ratePerSec)} requests/s` : `pipeline ${s.pipeline}`;
    return `- \`${s.id}\`: ${what}, ${s.connections} connections, ${load}, ${w.keyCount} keys`;
  });
}

export function chartLinks(d: SuiteResults): string[] {
  return (d.charts ?? []).map((c) => `![${c.replace(/^.*\//, '').replace(/\.svg$/, '')}](${c})`);
}
