// Suite "redis": GET/SET 64 B and 4 KiB, pipeline 1 and 16, 50 and 1000 connections, MGET of 10 keys; direct vs proxies.
// Never asserts a target: it measures, and the report says which targets the figures meet.
import { latencyChart, throughputChart } from '../charts/suite-charts.ts';
import type { BenchSuite, SuiteContext, SuiteOutcome } from './harness/suite-api.ts';
import { closedScenario, compareTargets, selectScenarios } from './harness/suite-api.ts';
import { chartLinks, fixed, machineLine, methodLines, provenance, scenarioList, summaryTable } from './harness/suite-report.ts';
import type { Scenario, SuiteResults, SummaryRow } from './harness/suite-types.ts';

export function redisScenarios(): Scenario[] {
  return [
    closedScenario('resp', 'get', 64, 1, 50),
    closedScenario('resp', 'set', 64, 1, 50),
    closedScenario('resp', 'get', 64, 16, 50),
    closedScenario('resp', 'set', 64, 16, 50),
    closedScenario('resp', 'get', 4096, 1, 50),
    closedScenario('resp', 'set', 4096, 1, 50),
    closedScenario('resp', 'get', 4096, 16, 50),
    closedScenario('resp', 'set', 4096, 16, 50),
    closedScenario('resp', 'get', 64, 1, 1000),
    closedScenario('resp', 'set', 64, 1, 1000),
    closedScenario('resp', 'get', 64, 16, 1000),
    closedScenario('resp', 'mget', 64, 1, 50),
  ];
}

/** The targets that one comparison run can check, per dynoproxy target. */
export function targetChecks(summary: readonly SummaryRow[], scenarioIds: readonly string[]): string[] {
  const lines: string[] = [];
  const dynos = [...new Set(summary.map((r) => r.target))].filter((t) => t.startsWith('dynoproxy'));
  for (const t of dynos) {
    const parts: string[] = [];
    for (const id of scenarioIds) {
      const row = summary.find((r) => r.scenario === id && r.target === t);
      const twem = summary.find((r) => r.scenario === id && r.target === 'twemproxy');
      if (row === undefined) continue;
      const vsT = row.vsTwemproxy === null ? '' : `${fixed(row.vsTwemproxy, 2)}x twemproxy ${row.vsTwemproxy >= 1 ? '(met)' : '(NOT met)'}`;
      const p16 = /-p16-/.test(id) && row.vsDirect !== null ? `, ${fixed(row.vsDirect, 2)}x direct ${row.vsDirect >= 0.7 ? '(met)' : '(NOT met)'}` : '';
      const cpu = row.proxyCpuUsPerRequest !== null && twem?.proxyCpuUsPerRequest != null
        ? `, CPU ${fixed(row.proxyCpuUsPerRequest / twem.proxyCpuUsPerRequest, 2)}x twemproxy's ${row.proxyCpuUsPerRequest <= 1.25 * twem.proxyCpuUsPerRequest ? '(met)' : '(NOT met)'}`
        : '';
      parts.push(`\`${id}\` ${vsT}${p16}${cpu}`);
    }
    if (parts.length > 0) lines.push(`- ${t}: ${parts.join('; ')}`);
  }
  return lines;
}

export const redisSuite: BenchSuite = {
  name: 'redis',
  description: 'GET/SET 64 B and 4 KiB at pipeline 1 and 16, 50 and 1000 connections, MGET of 10 keys: direct Redis vs twemproxy vs dynoproxy',
  defaults: { targets: 'direct,twemproxy,dynoproxy-w1,dynoproxy-w2', rounds: 3, warmupMs: 250, durationMs: 1000 },
  async run(ctx: SuiteContext): Promise<SuiteOutcome> {
    let scenarios = redisScenarios();
    if (ctx.options.quick && ctx.options.only.length === 0) scenarios = scenarios.filter((s) => /^(get|set)-64-p(1|16)-c50$/.test(s.id));
    scenarios = selectScenarios(scenarios, ctx.options.only);
    const { runs, summary } = await compareTargets(ctx, 'redis', scenarios);
    return { backend: 'redis', scenarios, runs, summary };
  },
  charts(results: SuiteResults): Record<string, string> {
    const charts: Record<string, string> = { throughput: throughputChart(results) };
    for (const id of ['get-64-p1-c50', 'get-64-p16-c50']) {
      if (results.summary.some((r) => r.scenario === id)) charts[`latency-${id}`] = latencyChart(results, id);
    }
    return charts;
  },
  render(file: string, d: SuiteResults): string {
    return [
      '## Redis: dynoproxy vs direct Redis vs twemproxy (our load generator)',
      '',
      provenance(file, d),
      '',
      machineLine(d),
      `- One \`redis-server --save '' --appendonly no\`; nutcracker (ketama, fnv1a_64) and dynoproxy each in front of that same`,
      `  server. Load generator, proxies and Redis share the machine's ${d.machine.cores} cores: the figures compare targets, they are not capacity.`,
      ...methodLines(d),
      '',
      '### Scenarios',
      '',
      ...scenarioList(d),
      '',
      '### Results',
      '',
      summaryTable(d),
      '',
      '### Issue targets on this run (50 connections, 64 B)',
      '',
      ...targetChecks(d.summary, ['get-64-p1-c50', 'set-64-p1-c50', 'get-64-p16-c50', 'set-64-p16-c50']),
      '',
      ...chartLinks(d),
    ].join('\n');
  },
};
