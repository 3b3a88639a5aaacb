// Tests of the pure parts of the suites: medians and ratios, the worker recommendation, paired added latency,
// CPU profile self time, and the micro-benchmark table renderer. No servers.
import t from 'tap';
import { summarizeRecords } from '../harness/rounds.ts';
import type { RunRecord } from '../harness/suite-types.ts';
import { recommend } from '../sweep.ts';
import { addedLatency } from '../latency.ts';
import { summarizeProfile } from '../harness/cpu-profile.ts';
import { renderBenchTable } from '../../../native-free-bench/run.ts';
import { parseStraceSummary } from '../harness/syscall-count.ts';

const lat = (p50: number, p99: number) => ({ count: 1, mean: p50, p50, p75: p50, p90: p99, p99, p999: p99, p9999: p99, max: p99 });

function rec(round: number, target: string, opsPerSec: number, p99 = 100, proxyCpuTicks: number | null = 10): RunRecord {
  return {
    round, scenario: 's', target, ops: opsPerSec, opsPerSec, elapsedMs: 1000, latencyUs: lat(p99 / 2, p99), serviceLatencyUs: null, sendLagUs: null,
    errorReplies: 0, connectionErrors: 0, firstError: undefined, endedBy: ['time'], quietWaitMs: 0,
    proxyCpuTicks: target === 'direct' ? null : proxyCpuTicks, backendCpuTicks: 5, clientCpuTicks: 5, otherCpuTicks: 20, machineCpuTicks: 200, proxyRssKb: target === 'direct' ? null : 1000 * round,
  };
}

t.test('summary: medians over rounds, pooled CPU, ratios to direct and twemproxy', async (t) => {
  const runs = [
    rec(1, 'direct', 100), rec(1, 'twemproxy', 50), rec(1, 'dynoproxy-w1', 60),
    rec(2, 'direct', 300), rec(2, 'twemproxy', 70), rec(2, 'dynoproxy-w1', 80),
    rec(3, 'direct', 200), rec(3, 'twemproxy', 60), rec(3, 'dynoproxy-w1', 1000),
  ];
  const rows = summarizeRecords(runs, 100);
  const dyno = rows.find((r) => r.target === 'dynoproxy-w1')!;
  t.equal(dyno.opsPerSec, 80, 'median, not mean');
  t.equal(dyno.vsDirect, 80 / 200);
  t.equal(dyno.vsTwemproxy, 80 / 60);
  t.equal(dyno.proxyCpuUsPerRequest, ((30 / 100) * 1e6) / (60 + 80 + 1000), 'sum of ticks over sum of requests');
  t.equal(dyno.proxyRssKb, 3000, 'largest RSS');
  t.equal(dyno.otherLoad, 0.1);
  t.equal(rows.find((r) => r.target === 'direct')!.proxyCpuUsPerRequest, null);
});

t.test('sweep recommendation', async (t) => {
  const p = (workers: number, pipeline: number, opsPerSec: number) => ({ workers, pipeline, opsPerSec, p99Us: 0 });
  const oneWins = recommend([p(1, 1, 100), p(2, 1, 80), p(3, 1, 70), p(1, 16, 1000), p(2, 16, 1020), p(3, 16, 900)], 2);
  t.equal(oneWins.bestByPipeline.P1, 1);
  t.equal(oneWins.bestByPipeline.P16, 1, 'within 3% of the best: the smaller count wins');
  t.equal(oneWins.workers, 1);
  t.match(oneWins.rule, /availableParallelism\(\) - 1/);
  const twoWins = recommend([p(1, 1, 80), p(2, 1, 100), p(1, 16, 800), p(2, 16, 1000)], 2);
  t.equal(twoWins.workers, 2);
  t.match(twoWins.rule, /one data worker per core/);
});

t.test('added latency pairs each round with direct in the same round', async (t) => {
  const runs = [rec(1, 'direct', 1, 100), rec(1, 'dynoproxy-w1', 1, 250), rec(2, 'direct', 1, 1000), rec(2, 'dynoproxy-w1', 1, 1100), rec(3, 'direct', 1, 100), rec(3, 'dynoproxy-w1', 1, 400)];
  const [a] = addedLatency(runs, 's');
  t.equal(a!.target, 'dynoproxy-w1');
  t.equal(a!.addedP99Us, 150, 'median of 150, 100, 300');
  t.equal(a!.met, true);
});

t.test('profile self time', async (t) => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 9, columnNumber: 0 });
  const profile = {
    nodes: [{ id: 1, callFrame: frame('(root)') }, { id: 2, callFrame: frame('parse', 'file:///repo/src/p.ts') }, { id: 3, callFrame: frame('(idle)') }, { id: 4, callFrame: frame('(program)') }],
    samples: [2, 2, 3, 4, 2],
    timeDeltas: [0, 1000, 1000, 1000, 1000],
    startTime: 0,
    endTime: 5000,
  };
  const s = summarizeProfile(profile, '/repo');
  t.equal(s.top[0]!.name, 'parse');
  t.equal(s.top[0]!.where, 'src/p.ts:10');
  t.equal(s.top[0]!.selfShare, 3 / 4, 'share of non-idle time');
  t.equal(s.busyMs, 4);
});

t.test('micro table renderer', async (t) => {
  t.match(renderBenchTable({ results: [{ subject: 'a', ns: 1500 }] }), /\| subject \| ns \|\n\| --- \| ---: \|\n\| a \| 1,500 \|/);
  t.match(renderBenchTable({ unit: 'ns/key', results: { fnv: { 8: 13.5, 32: 40 } } }), /\| fnv \| 13\.5 \| 40 \|/);
});

t.test('strace -c summary', async (t) => {
  const text = [
    '% time     seconds  usecs/call     calls    errors syscall',
    '------ ----------- ----------- --------- --------- ----------------',
    ' 45.12    0.123456           2     61234           write',
    ' 30.00    0.100000           1     60000      1200 read',
    '------ ----------- ----------- --------- --------- ----------------',
    '100.00    0.233456           1    121234      1200 total',
  ].join('\n');
  t.same(parseStraceSummary(text), [{ name: 'write', calls: 61234 }, { name: 'read', calls: 60000 }]);
});
