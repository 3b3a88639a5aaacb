// Suite "memcached": get/set 64 B and 4 KiB at pipeline 1 and 16, multi-key get of 10; direct memcached vs proxies.
// Never asserts a target: it measures, and the report says which targets the figures meet.
import { latencyChart, throughputChart } from '../charts/suite-charts.ts';
import type { BenchSuite, SuiteContext, SuiteOutcome } from './harness/suite-api.ts';
import { closedScenario, compareTargets, selectScenarios } from './harness/suite-api.ts';
import { chartLinks, machineLine, methodLines, provenance, scenarioList, summaryTable } from './harness/suite-report.ts';
import type { Scenario, SuiteResults } from './harness/suite-types.ts';
import { targetChecks } from './redis.ts';

export function memcachedScenarios(): Scenario[] {
  return [
    closedScenario('memcache', 'get', 64, 1, 50),
    closedScenario('memcache', 'set', 64, 1, 50),
    closedScenario('memcache', 'get', 64, 16, 50),
    closedScenario('memcache', 'set', 64, 16, 50),
    closedScenario('memcache', 'get', 4096, 16, 50),
    closedScenario('memcache', 'set', 4096, 16, 50),
    closedScenario('memcache', 'mget', 64, 1, 50),
  ];
}

export const memcachedSuite: BenchSuite = {
  name: 'memcached',
  description: 'memcached text get/set at pipeline 1 and 16, multi-key get: direct memcached vs twemproxy vs dynoproxy',
  defaults: { targets: 'direct,twemproxy,dynoproxy-w1,dynoproxy-w2', rounds: 3, warmupMs: 250, durationMs: 1000 },
  async run(ctx: SuiteContext): Promise<SuiteOutcome> {
    let scenarios = memcachedScenarios();
    if (ctx.options.quick && ctx.options.only.length === 0) scenarios = scenarios.filter((s) => /^(get|set)-64-p(1|16)-c50$/.test(s.id));
    scenarios = selectScenarios(scenarios, ctx.options.only);
    const { runs, summary } = await compareTargets(ctx, 'memcached', scenarios);
    return { backend: 'memcached', scenarios, runs, summary };
  },
  charts(results: SuiteResults): Record<string, string> {
    const charts: Record<string, string> = { throughput: throughputChart(results) };
    if (results.summary.some((r) => r.scenario === 'get-64-p1-c50')) charts['latency-get-64-p1-c50'] = latencyChart(results, 'get-64-p1-c50');
    return charts;
  },
  render(file: string, d: SuiteResults): string {
    return [
      '## memcached: dynoproxy vs direct memcached vs twemproxy (our load generator)',
      '',
      provenance(file, d),
      '',
      machineLine(d),
      `- One \`memcached\` (one thread per core by default); nutcracker (ketama, fnv1a_64, \`redis: false\`) and dynoproxy`,
      '  (`data_store: 1`) each in front of it. Text protocol: `get`, `set`, and a 10-key `get` for the multi-key case.',
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
      '### Issue targets on this run (same ratios against twemproxy as for Redis)',
      '',
      ...targetChecks(d.summary, ['get-64-p1-c50', 'set-64-p1-c50', 'get-64-p16-c50', 'set-64-p16-c50']),
      '',
      ...chartLinks(d),
    ].join('\n');
  },
};
