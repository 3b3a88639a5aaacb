// Benchmark CLI: `npm run bench -- <suite> [options]` runs one load suite, keeps its JSON, charts and BENCHMARKS.md block.
// Never leaves a process running, never overwrites an earlier results file, never edits text outside its own block.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LoadGenerator } from './loadgen/load-generator.ts';
import { replaceGeneratedSection } from './lib/benchmarks-doc.ts';
import { ensureOpenFileLimit } from './lib/fd-limit.ts';
import { describeMachine, toolVersion } from './lib/machine-info.ts';
import { clockTicksPerSecond } from './lib/proc-stats.ts';
import { ProcessGroup } from './lib/process-group.ts';
import { fileStamp, latestResult, writeResults } from './lib/results-store.ts';
import { projectNodeBinary, repoRoot } from './lib/server-launchers.ts';
import { writeCharts } from './charts/suite-charts.ts';
import type { BenchSuite, SuiteOptions } from './suites/harness/suite-api.ts';
import type { SuiteResults } from './suites/harness/suite-types.ts';
import { clusterSuite } from './suites/cluster.ts';
import { latencySuite } from './suites/latency.ts';
import { memcachedSuite } from './suites/memcached.ts';
import { profileSuite } from './suites/profile.ts';
import { redisSuite } from './suites/redis.ts';
import { sweepSuite } from './suites/sweep.ts';

const suites: readonly BenchSuite[] = [redisSuite, memcachedSuite, latencySuite, sweepSuite, profileSuite, clusterSuite];
const resultsDir = join(repoRoot, 'bench', 'results');
const chartsDir = join(resultsDir, 'charts');
const benchmarksDoc = join(repoRoot, 'BENCHMARKS.md');
const started = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    prime: { type: 'string', default: '300' },
    threads: { type: 'string', default: '1' },
    targets: { type: 'string' },
    scenarios: { type: 'string', default: '' },
    pacing: { type: 'string', default: '100' },
    quick: { type: 'boolean', default: false },
    'quiet-threshold': { type: 'string', default: '0.1' },
    'quiet-wait': { type: 'string', default: '5' },
    'quiet-budget': { type: 'string', default: '30' },
    'report-only': { type: 'boolean', default: false },
    'no-report': { type: 'boolean', default: false },
    'keep-tmp': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const usage = `usage: npm run bench -- <suite> [options]
suites:
${suites.map((s) => `  ${s.name.padEnd(10)} ${s.description}`).join('\n')}
options:
  --rounds N        interleaved rounds (suite default)      --duration MS   measured window per run
  --warmup MS       unmeasured lead-in per run              --prime MS      one unmeasured run per scenario and target (300; 0 skips)
  --threads N       load generator threads (1)              --targets LIST  e.g. direct,twemproxy,dynoproxy-w1,dynoproxy-w2
  --scenarios IDS   keep only these scenario ids            --pacing US     open-loop tick (100; 0: on replies)
  --quick           fewer scenarios, 2 rounds of 500 ms     --report-only   rewrite the suite's BENCHMARKS.md block from bench/results/
  --no-report       keep BENCHMARKS.md as it is             --keep-tmp      keep configs and logs
  --quiet-threshold 0.1 --quiet-wait 5 (s per run) --quiet-budget 30 (s in all): wait for other load to drop before each run
`;

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

function blockId(suite: BenchSuite): string {
  return `loadgen-${suite.name}`;
}

function rewriteBlock(suite: BenchSuite): void {
  const latest = latestResult<SuiteResults>(resultsDir, blockId(suite));
  if (latest === undefined) throw new Error(`no ${blockId(suite)} results in ${resultsDir} yet`);
  let doc: string | undefined;
  try {
    doc = readFileSync(benchmarksDoc, 'utf8');
  } catch {
    doc = undefined;
  }
  writeFileSync(benchmarksDoc, replaceGeneratedSection(doc, blockId(suite), suite.render(latest.file, latest.data)));
  log(`rewrote the ${blockId(suite)} block of BENCHMARKS.md from ${latest.file}`);
}

function gitState(): { commit: string; dirty: boolean } {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain', '--', 'src']) !== '' };
}

async function main(): Promise<void> {
  const name = positionals[0];
  if (values.help || name === undefined) {
    process.stdout.write(usage);
    return;
  }
  const suite = suites.find((s) => s.name === name);
  if (suite === undefined) throw new Error(`unknown suite ${JSON.stringify(name)}\n${usage}`);
  if (values['report-only']) return rewriteBlock(suite);

  const quick = values.quick;
  const options: SuiteOptions = {
    rounds: count('rounds', values.rounds ?? String(quick ? Math.min(2, suite.defaults.rounds) : suite.defaults.rounds), 1),
    warmupMs: count('warmup', values.warmup ?? String(quick ? 150 : suite.defaults.warmupMs), 0),
    durationMs: count('duration', values.duration ?? String(quick ? 500 : suite.defaults.durationMs), 50),
    primeMs: count('prime', quick && values.prime === '300' ? '100' : values.prime, 0),
    threads: count('threads', values.threads, 1),
    targets: values.targets ?? suite.defaults.targets,
    only: values.scenarios.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    quick,
    pacingUs: count('pacing', values.pacing, 0),
    quiet: {
      threshold: Number(values['quiet-threshold']),
      perRunMs: count('quiet-wait', values['quiet-wait'], 0) * 1000,
      totalMs: count('quiet-budget', values['quiet-budget'], 0) * 1000,
    },
  };
  // 1000 connections: one fd here, one in the proxy, and the proxy's backend side; children inherit the limit.
  ensureOpenFileLimit(8192);

  const startedAt = new Date();
  const tmpDir = join(resultsDir, 'tmp', `${fileStamp(startedAt)}-${suite.name}`);
  mkdirSync(tmpDir, { recursive: true });
  const group = new ProcessGroup();
  const gen = new LoadGenerator(options.threads);
  const loadStart = loadavg()[0]!;
  let ok = false;
  try {
    log(`suite ${suite.name}: ${options.rounds} round(s), ${options.warmupMs} + ${options.durationMs} ms per run, ${options.threads} load thread(s), targets ${options.targets}; load average ${loadStart.toFixed(1)}`);
    const outcome = await suite.run({ group, dir: tmpDir, gen, options, clockTicks: clockTicksPerSecond(), log });
    const results: SuiteResults = {
      suite: suite.name,
      schema: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      git: gitState(),
      machine: describeMachine(),
      versions: {
        node: toolVersion(projectNodeBinary()),
        'redis-server': toolVersion('redis-server'),
        memcached: toolVersion('memcached', ['-V']),
        nutcracker: toolVersion('nutcracker'),
      },
      command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
      options: { rounds: options.rounds, warmupMs: options.warmupMs, durationMs: options.durationMs, threads: options.threads, targets: options.targets.split(','), quiet: options.quiet, pacingUs: options.pacingUs },
      clockTicksPerSecond: clockTicksPerSecond(),
      ...outcome,
      loadAverage: [loadStart, loadavg()[0]!],
    };
    results.charts = writeCharts(chartsDir, repoRoot, suite.name, suite.charts(results));
    const path = writeResults(resultsDir, blockId(suite), startedAt, results);
    log(`wrote ${path}${results.charts.length > 0 ? ` and ${results.charts.join(', ')}` : ''}`);
    if (!values['no-report']) rewriteBlock(suite);
    ok = true;
  } finally {
    await gen.close();
    await group.stopAll();
    if (ok && !values['keep-tmp']) rmSync(tmpDir, { recursive: true, force: true });
    else log(`logs and configs kept in ${tmpDir}`);
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
