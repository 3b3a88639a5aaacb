// Tests of run summaries and the generated markdown, from synthetic runs with known answers.
// Never reads bench/results/.
import t from 'tap';
import { renderRedisBenchmarkReport } from '../redis/redis-benchmark-report.ts';
import type { RedisBenchmarkResults, ThroughputRun } from '../redis/result-types.ts';
import { summariseRuns } from '../redis/throughput-rounds.ts';

function run(round: number, target: string, test: string, rps: number, proxyTicks: number | null, redisTicks: number): ThroughputRun {
  return {
    round, pipeline: 1, target, test, requests: 100_000, rps, p50LatencyMs: 0.3, p99LatencyMs: 0.9, elapsedMs: 1000, quietWaitMs: 0,
    proxyCpuTicks: proxyTicks, redisCpuTicks: redisTicks, clientCpuTicks: 100, otherCpuTicks: round, machineCpuTicks: 200,
    proxyRssKb: proxyTicks === null ? null : 40_000 + round * 1024,
  };
}

const runs: ThroughputRun[] = [];
for (const [round, jitter] of [[1, 0.9], [2, 1.0], [3, 1.1]] as const) {
  runs.push(run(round, 'direct', 'SET', 100_000 * jitter, null, 40));
  runs.push(run(round, 'direct', 'GET', 120_000 * jitter, null, 35));
  runs.push(run(round, 'twemproxy', 'SET', 50_000 * jitter, 90, 10));
  runs.push(run(round, 'twemproxy', 'GET', 60_000 * jitter, 95, 12));
  runs.push(run(round, 'dynoproxy-w1', 'SET', 80_000 * jitter, 70 + round, 8));
  runs.push(run(round, 'dynoproxy-w1', 'GET', 90_000 * jitter, 75, 9));
}

t.test('summary: median rps, spread, CPU pooled over rounds', async (t) => {
  const summary = summariseRuns(runs, 100);
  t.equal(summary.length, 6);
  const dynoSet = summary.find((s) => s.target === 'dynoproxy-w1' && s.test === 'SET')!;
  t.equal(dynoSet.rounds, 3);
  t.equal(Math.round(dynoSet.rps), 80_000);
  t.equal(Math.round(dynoSet.rpsSpread * 100), 20);
  // (71 + 72 + 73) ticks at 100 Hz over 300,000 requests = 2.16 s / 300,000 = 7.2 µs.
  t.equal(dynoSet.proxyCpuUsPerRequest!.toFixed(2), '7.20');
  t.equal(dynoSet.redisCpuUsPerRequest.toFixed(2), '0.80');
  t.equal(dynoSet.proxyRssKb, 40_000 + 3 * 1024, 'largest RSS seen');
  t.equal(dynoSet.clientCpuUsPerRequest.toFixed(2), '10.00');
  t.equal(dynoSet.otherLoad, 2 / 200, 'median background share');
  const directGet = summary.find((s) => s.target === 'direct' && s.test === 'GET')!;
  t.equal(directGet.proxyCpuUsPerRequest, null);
  t.equal(directGet.proxyRssKb, null);
});

t.test('report: ratios against direct and twemproxy, idle table, rerun section', async (t) => {
  const data: RedisBenchmarkResults = {
    suite: 'redis-benchmark', schema: 1, startedAt: '2026-11-25T13:00:00.000Z', finishedAt: '2026-11-25T13:03:00.000Z',
    git: { commit: '0123456789abcdef', dirty: false },
    machine: { cpuModel: 'Test CPU', cores: 2, kernel: '6.1.0', memoryMiB: 8192, nodeVersion: 'v24.0.0' },
    versions: { node: 'v24.0.0', 'redis-server': 'Redis server v=7.0.15' },
    command: 'node_modules/.bin/node bench/redis-benchmark.ts --rounds 3',
    options: { rounds: 3, requests: 100_000, clients: 50, pipelines: [1], targets: ['direct', 'twemproxy', 'dynoproxy-w1'], idle: 1000 },
    clockTicksPerSecond: 100,
    throughput: {
      redisBenchmarkCommand: 'redis-benchmark -h 127.0.0.1 -p <port> -t <set|get> -c 50 -n 100000 -P <1> -q --csv',
      allWorkersListening: { direct: true, twemproxy: true, 'dynoproxy-w1': true },
      runs,
      summary: summariseRuns(runs, 100),
    },
    idle: {
      connections: 1000,
      results: [{
        target: 'dynoproxy-w1', workers: 1, requested: 1000, connected: 1000, failed: 0, firstError: undefined,
        accepted: 1000, closedByPeer: 0, rssBeforeKb: 40_960, rssAfterKb: 43_008, peakRssKb: 43_008, connectMs: 100,
      }],
    },
  };
  const md = renderRedisBenchmarkReport({ file: 'x.json', data }, { file: 'x.json', data });
  const row = md.split('\n').find((l) => l.startsWith('| dynoproxy-w1 |') && l.includes('rps') === false && l.includes('%'))!;
  t.ok(row, 'dynoproxy row in the pipeline table');
  const cells = row.split('|').map((c) => c.trim());
  t.equal(cells[2], '90,000 (20%)', 'GET median and spread');
  t.equal(cells[4], '0.75 / 0.80', 'vs direct GET / SET');
  t.equal(cells[5], '1.50 / 1.60', 'vs twemproxy GET / SET');
  t.equal(cells[6], '7.50 / 7.20', 'proxy CPU µs/request GET / SET');
  const num = (c: string): number[] => c.split(' / ').map(Number);
  const [proxyGet] = num(cells[6]!);
  const [redisGet] = num(cells[7]!);
  const [clientGet] = num(cells[8]!);
  t.ok(clientGet! > 0, `client CPU ${cells[8]}`);
  t.equal(num(cells[9]!)[0], Number((proxyGet! + redisGet! + clientGet!).toFixed(2)), 'chain CPU = proxy + redis + client');
  t.equal(cells[12], '1 / 1', 'other load % GET / SET');
  t.match(md, /\| dynoproxy-w1 \| 1 \| 40\.0 \| 42\.0 \| 2\.0 \| 2\.0 \| 2\.05 \| 1,000 \/ 0 \/ 0 \|/, 'idle row: 2 MiB over 1000 connections');
  t.match(md, /commit `0123456789`/);
  t.match(md, /### How to rerun/);
  t.notMatch(md, /NaN|undefined/);
});

t.test('report without results says so instead of failing', async (t) => {
  t.match(renderRedisBenchmarkReport(undefined, undefined), /No results yet/);
});
