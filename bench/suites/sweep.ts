// Suite "sweep": dynoproxy with 1 .. 2x cores data workers at pipeline 1 and 16; the worker count `auto` should pick.
// Never changes the proxy's default itself: it reports the evidence and the count it implies.
import { availableParallelism } from 'node:os';
import { markdownTable } from '../lib/benchmarks-doc.ts';
import { sweepCharts } from '../charts/suite-charts.ts';
import type { SweepPoint } from '../charts/suite-charts.ts';
import type { BenchSuite, SuiteContext, SuiteOutcome } from './harness/suite-api.ts';
import { closedScenario, compareTargets, selectScenarios } from './harness/suite-api.ts';
import { chartLinks, fixed, int, machineLine, methodLines, provenance } from './harness/suite-report.ts';
import type { SuiteResults, SummaryRow } from './harness/suite-types.ts';

/** Worker counts within this share of the best are ties, and the smaller count wins (less memory, less contention). */
const TIE = 0.03;

export interface SweepRecommendation {
  cores: number;
  /** Best worker count per pipeline depth. */
  bestByPipeline: Record<string, number>;
  /** The count with the best geometric mean of throughput relative to each pipeline's best. */
  workers: number;
  /** Throughput of each count relative to each pipeline's best, geometric mean. */
  scores: Record<string, number>;
  rule: string;
}

function workersOf(target: string): number {
  return Number(/^dynoproxy-w(\d+)$/.exec(target)?.[1] ?? Number.NaN);
}

export function sweepPoints(summary: readonly SummaryRow[]): SweepPoint[] {
  return summary
    .filter((r) => Number.isFinite(workersOf(r.target)))
    .map((r) => ({ workers: workersOf(r.target), pipeline: Number(/-p(\d+)-/.exec(r.scenario)?.[1]), opsPerSec: r.opsPerSec, p99Us: r.latencyUs.p99 }));
}

export function recommend(points: readonly SweepPoint[], cores: number): SweepRecommendation {
  const workers = [...new Set(points.map((p) => p.workers))].sort((a, b) => a - b);
  const pipelines = [...new Set(points.map((p) => p.pipeline))].sort((a, b) => a - b);
  const bestByPipeline: Record<string, number> = {};
  const relative = new Map<number, number[]>();
  for (const pl of pipelines) {
    const row = points.filter((p) => p.pipeline === pl);
    const max = Math.max(...row.map((p) => p.opsPerSec));
    bestByPipeline[`P${pl}`] = Math.min(...row.filter((p) => p.opsPerSec >= max * (1 - TIE)).map((p) => p.workers));
    for (const p of row) relative.set(p.workers, [...(relative.get(p.workers) ?? []), p.opsPerSec / max]);
  }
  const scores: Record<string, number> = {};
  for (const w of workers) {
    const r = relative.get(w) ?? [];
    scores[String(w)] = r.length === pipelines.length ? Math.exp(r.reduce((s, x) => s + Math.log(x), 0) / r.length) : 0;
  }
  const bestScore = Math.max(...Object.values(scores));
  const chosen = Math.min(...workers.filter((w) => scores[String(w)]! >= bestScore * (1 - TIE)));
  const rule = chosen === cores
    ? 'one data worker per core: `auto` = availableParallelism()'
    : chosen === cores - 1
      ? 'one core left for the datastore and clients: `auto` = max(1, availableParallelism() - 1)'
      : chosen < cores
        ? `fewer workers than cores: \`auto\` = max(1, round(availableParallelism() x ${fixed(chosen / cores, 2)}))`
        : `more workers than cores: \`auto\` = availableParallelism() x ${fixed(chosen / cores, 2)}`;
  return { cores, bestByPipeline, workers: chosen, scores, rule };
}

export const sweepSuite: BenchSuite = {
  name: 'sweep',
  description: 'dynoproxy data workers 1 .. 2x cores at pipeline 1 and 16 (GET 64 B, 50 connections): throughput, p99, the count for --workers auto',
  defaults: {
    targets: ['direct', ...Array.from({ length: 2 * availableParallelism() }, (_, i) => `dynoproxy-w${i + 1}`)].join(','),
    rounds: 3,
    warmupMs: 250,
    durationMs: 1000,
  },
  async run(ctx: SuiteContext): Promise<SuiteOutcome> {
    const scenarios = selectScenarios([closedScenario('resp', 'get', 64, 1, 50), closedScenario('resp', 'get', 64, 16, 50)], ctx.options.only);
    const { runs, summary } = await compareTargets(ctx, 'redis', scenarios);
    const points = sweepPoints(summary);
    const recommendation = recommend(points, availableParallelism());
    ctx.log(`sweep: best worker count ${recommendation.workers} on ${recommendation.cores} cores (${JSON.stringify(recommendation.bestByPipeline)}); ${recommendation.rule}`);
    return { backend: 'redis', scenarios, runs, summary, findings: { points, recommendation } };
  },
  charts(results: SuiteResults): Record<string, string> {
    const { throughput, p99 } = sweepCharts((results.findings as { points: SweepPoint[] }).points);
    return { throughput, p99 };
  },
  render(file: string, d: SuiteResults): string {
    const { points, recommendation: rec } = d.findings as { points: SweepPoint[]; recommendation: SweepRecommendation };
    const workers = [...new Set(points.map((p) => p.workers))].sort((a, b) => a - b);
    const pipelines = [...new Set(points.map((p) => p.pipeline))].sort((a, b) => a - b);
    const direct = d.summary.filter((r) => r.target === 'direct');
    const rows = workers.map((w) => {
      const cells = [String(w)];
      for (const pl of pipelines) {
        const p = points.find((q) => q.workers === w && q.pipeline === pl);
        const row = d.summary.find((r) => r.target === `dynoproxy-w${w}` && r.scenario.includes(`-p${pl}-`));
        cells.push(p === undefined ? '–' : `${int(p.opsPerSec)} (${Math.round((row?.spread ?? 0) * 100)}%)`, p === undefined ? '–' : fixed(p.p99Us, 0), fixed(row?.proxyCpuUsPerRequest, 2));
      }
      cells.push(fixed(rec.scores[String(w)], 3));
      return cells;
    });
    const header = ['workers', ...pipelines.flatMap((pl) => [`P${pl} ops/s (spread)`, `P${pl} p99 µs`, `P${pl} CPU µs/req`]), 'score'];
    return [
      '## Worker sweep: dynoproxy data workers vs throughput and p99',
      '',
      provenance(file, d),
      '',
      machineLine(d),
      ...methodLines(d),
      `- Direct Redis on the same run: ${direct.map((r) => `${r.scenario} ${int(r.opsPerSec)} ops/s, p99 ${fixed(r.latencyUs.p99, 0)} µs`).join('; ')}.`,
      `- score: throughput relative to the best count at each pipeline depth, geometric mean over depths; counts within ${TIE * 100}% of the`,
      '  best are ties and the smaller count wins.',
      '',
      markdownTable(header, rows, header.map((_, i) => (i === 0 ? 'l' : 'r'))),
      '',
      `**Recommendation on this machine (${rec.cores} cores, load generator and Redis on the same cores):** ${rec.workers} data worker(s);`,
      `best per depth ${Object.entries(rec.bestByPipeline).map(([k, v]) => `${k}: ${v}`).join(', ')}. Rule it implies: ${rec.rule}.`,
      'A host where the datastore and the clients run elsewhere leaves the proxy every core; rerun the sweep there.',
      '',
      ...chartLinks(d),
    ].join('\n');
  },
};
