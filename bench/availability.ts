// Availability bench (issue 11's figures): the full-size scenario of test/cluster/availability-scenario.test.ts run N times
// (3 racks of 2 nodes + a remote DC of 2 racks, 8 writers at DC_ONE, kill -9 for 5 s, the remote DC frozen for 6 s), medians into BENCHMARKS.md.
// Never runs unbounded: each run is one tap process with a timeout, which stops every process it started.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './lib/median.ts';
import { describeMachine } from './lib/machine-info.ts';
import { replaceGeneratedSection, markdownTable } from './lib/benchmarks-doc.ts';
import { writeResults } from './lib/results-store.ts';
import { repoRoot } from './lib/server-launchers.ts';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '3' }, baseline: { type: 'string', default: '1' } } });
const RUNS = Number(opt.runs);
const BASELINE = Number(opt.baseline);

type Figures = {
  acked: number;
  refused: number;
  clientTimeouts: number;
  missingCopies: number;
  missingWrites: number;
  missingByNode: Record<string, number>;
  convergedAfterMs: number;
  missingAtDeadline: number;
  reads: number;
  readErrors: number;
  readNils: number;
  detectionMs: Record<string, number>;
  detectionMaxMs: number;
  hintsReplayed: number;
  hintsDropped: number;
  durationMs: number;
};

function runOnce(pool: Record<string, unknown>): Figures {
  const tap = path.join(repoRoot, 'node_modules', '.bin', 'tap');
  const env = { ...process.env, PATH: `${path.join(repoRoot, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`, DYNOPROXY_SCENARIO: 'full', DYNOPROXY_SCENARIO_POOL: JSON.stringify(pool) };
  const r = spawnSync(tap, ['--disable-coverage', '--timeout', '400', 'test/cluster/availability-scenario.test.ts'], { cwd: repoRoot, env, encoding: 'utf8', timeout: 600_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const m = /SCENARIO-FIGURES (\{.*\})/.exec(out);
  if (m === null) throw new Error(`no figures from the scenario run (exit ${r.status}):\n${out.slice(-4000)}`);
  return JSON.parse(m[1]) as Figures;
}

function main(): void {
  const startedAt = new Date();
  const runs: Figures[] = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(runOnce({}));
    process.stderr.write(`run ${i + 1}/${RUNS}: ${JSON.stringify(runs[i])}\n`);
  }
  const baseline: Figures[] = [];
  for (let i = 0; i < BASELINE; i++) {
    baseline.push(runOnce({ max_hints: 0 }));
    process.stderr.write(`baseline ${i + 1}/${BASELINE} (max_hints 0): ${JSON.stringify(baseline[i])}\n`);
  }
  const file = writeResults(path.join(repoRoot, 'bench', 'results'), 'availability', startedAt, { machine: describeMachine(), runs, baseline });
  const med = (xs: Figures[], f: (x: Figures) => number): number => (xs.length === 0 ? NaN : median(xs.map(f)));
  const all = (xs: Figures[], f: (x: Figures) => number | string): string => xs.map(f).join('; ');
  const pct = (x: Figures): number => (x.reads === 0 ? NaN : (100 * (x.reads - x.readErrors)) / x.reads);
  const rows: [string, string, string, string, string][] = [
    ['acknowledged writes', '', String(med(runs, (x) => x.acked)), all(runs, (x) => x.acked), all(baseline, (x) => x.acked)],
    ['acknowledged writes missing on a replica 30 s after everything is back (writes / replica copies)', '0', `${med(runs, (x) => x.missingWrites)} / ${med(runs, (x) => x.missingCopies)}`, all(runs, (x) => `${x.missingWrites} / ${x.missingCopies}`), all(baseline, (x) => `${x.missingWrites} / ${x.missingCopies}`)],
    ['time until every acknowledged write was on every replica, polled from when everything was back (ms)', '', String(med(runs, (x) => x.convergedAfterMs)), all(runs, (x) => x.convergedAfterMs), all(baseline, (x) => x.convergedAfterMs)],
    ['... still missing 30 s later', '0', String(med(runs, (x) => x.missingAtDeadline)), all(runs, (x) => x.missingAtDeadline), all(baseline, (x) => x.missingAtDeadline)],
    ['writes refused while a replica was up', '0', String(med(runs, (x) => x.refused)), all(runs, (x) => x.refused), all(baseline, (x) => x.refused)],
    ['writes without an answer within 5 s (not counted as acknowledged)', '', String(med(runs, (x) => x.clientTimeouts)), all(runs, (x) => x.clientTimeouts), all(baseline, (x) => x.clientTimeouts)],
    ['reads answered (not an error) through a dc1 node', '100%', `${med(runs, pct).toFixed(3)}%`, all(runs, (x) => `${pct(x).toFixed(3)}% of ${x.reads}`), all(baseline, (x) => `${pct(x).toFixed(3)}% of ${x.reads}`)],
    ['reads answered nil for an acknowledged key', '', String(med(runs, (x) => x.readNils)), all(runs, (x) => x.readNils), all(baseline, (x) => x.readNils)],
    ['killed node seen down by every other node, slowest (ms)', '<= 3000', String(med(runs, (x) => x.detectionMaxMs)), all(runs, (x) => x.detectionMaxMs), all(baseline, (x) => x.detectionMaxMs)],
    ['hints replayed (all nodes)', '', String(med(runs, (x) => x.hintsReplayed)), all(runs, (x) => x.hintsReplayed), all(baseline, (x) => x.hintsReplayed)],
    ['hints dropped (all nodes)', '0', String(med(runs, (x) => x.hintsDropped)), all(runs, (x) => x.hintsDropped), all(baseline, (x) => x.hintsDropped)],
  ];
  const table = markdownTable(['figure', 'target', `median of ${RUNS}`, 'each run', `max_hints: 0 (${BASELINE} run)`], rows, ['l', 'r', 'r', 'r', 'r']);
  const m = describeMachine();
  const body = [
    '## Availability: issue 11\'s scenario (kill -9 a node, freeze the remote DC, under write load)',
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, node ${m.nodeVersion}. Date: ${startedAt.toISOString()}. Results: \`${path.relative(repoRoot, file)}\`.`,
    '',
    'Eight dynoproxy nodes (1 data worker each, `gos_interval: 1000`, `timeout: 2000`, hints on by default) on loopback, each beside its own redis-server:',
    'dc1 with rack1..rack3 of 2 nodes, dc2 with 2 racks of 1 node. DC_ONE. Eight writers (one connection each, one SET of a new key at a time) go',
    'through the five dc1 nodes other than the victim, two readers GET random acknowledged keys. At 2 s dc1/rack1/0 is killed -9 (its redis stays)',
    'and restarted 5 s later; at 9 s both dc2 dynoproxy processes get SIGSTOP, SIGCONT 6 s later; writers stop 3 s after that. 30 s after',
    'everything is back every acknowledged write is read with MGET straight from the redis of its owner in every rack of both DCs, then again',
    'every second for 30 more seconds (before that, the same check every half second from when everything is back times the convergence). The last column is the same run with hinted handoff off (`max_hints: 0`), i.e. what the issue saw.',
    '',
    table,
    '',
    'Rerun: `node bench/availability.ts --runs 3 --baseline 1`; the reduced version is `test/cluster/availability-scenario.test.ts`.',
  ].join('\n');
  const docPath = path.join(repoRoot, 'BENCHMARKS.md');
  writeFileSync(docPath, replaceGeneratedSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : undefined, 'availability', body));
  process.stdout.write(`${body}\n`);
}

main();
