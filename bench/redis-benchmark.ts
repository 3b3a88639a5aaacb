// End-to-end benchmark: redis-benchmark against direct Redis, twemproxy and dynoproxy, interleaved.
// Never leaves a process running, never overwrites an earlier results file, never edits BENCHMARKS.md's Notes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { replaceGeneratedSection } from './lib/benchmarks-doc.ts';
import { ensureOpenFileLimit } from './lib/fd-limit.ts';
import { describeMachine, toolVersion } from './lib/machine-info.ts';
import { clockTicksPerSecond } from './lib/proc-stats.ts';
import { ProcessGroup } from './lib/process-group.ts';
import { fileStamp, latestResult, writeResults } from './lib/results-store.ts';
import type { LaunchContext, RunningServer } from './lib/server-launchers.ts';
import { projectNodeBinary, repoRoot, startDynoproxy, startRedisServer, startTwemproxy } from './lib/server-launchers.ts';
import { measureIdleConnections } from './redis/idle-memory.ts';
import { renderRedisBenchmarkReport } from './redis/redis-benchmark-report.ts';
import type { IdleResult, RedisBenchmarkResults } from './redis/result-types.ts';
import { suiteName } from './redis/result-types.ts';
import type { BenchTarget } from './redis/throughput-rounds.ts';
import { redisBenchmarkArgs, runThroughputRounds, summariseRuns } from './redis/throughput-rounds.ts';

const resultsDir = join(repoRoot, 'bench', 'results');
const benchmarksDoc = join(repoRoot, 'BENCHMARKS.md');
const started = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
};

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '200000' },
    targets: { type: 'string', default: 'direct,twemproxy,dynoproxy-w1,dynoproxy-w2' },
    pipelines: { type: 'string', default: '1,16' },
    clients: { type: 'string', default: '50' },
    idle: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '20000' },
    'quiet-threshold': { type: 'string', default: '0.1' },
    'quiet-wait': { type: 'string', default: '10' },
    'quiet-budget': { type: 'string', default: '60' },
    'report-only': { type: 'boolean', default: false },
    'no-report': { type: 'boolean', default: false },
    'keep-tmp': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/redis-benchmark.ts [--rounds 5] [--requests 200000]
  [--targets direct,twemproxy,dynoproxy-w1,dynoproxy-w2] [--pipelines 1,16] [--clients 50]
  [--idle 10000 (0 skips)] [--warmup 20000] [--report-only] [--no-report] [--keep-tmp]
  [--quiet-threshold 0.1] [--quiet-wait 10 (s per run, 0 disables)] [--quiet-budget 60 (s in all)]
`);
  process.exit(0);
}

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

const options = {
  rounds: count('rounds', values.rounds, 0),
  requests: count('requests', values.requests, 1),
  clients: count('clients', values.clients, 1),
  pipelines: values.pipelines.split(',').map((p) => count('pipelines', p, 1)),
  targets: values.targets.split(',').map((t) => t.trim()).filter((t) => t !== ''),
  idle: count('idle', values.idle, 0),
  quiet: {
    threshold: Number(values['quiet-threshold']),
    perRunMs: count('quiet-wait', values['quiet-wait'], 0) * 1000,
    totalMs: count('quiet-budget', values['quiet-budget'], 0) * 1000,
  },
};
if (!(options.quiet.threshold >= 0 && options.quiet.threshold <= 1)) {
  throw new Error(`--quiet-threshold is a share of all CPUs between 0 and 1, got ${values['quiet-threshold']}`);
}
const warmupRequests = count('warmup', values.warmup, 0);
for (const t of options.targets) {
  if (!/^(direct|twemproxy|dynoproxy-w[1-9]\d*)$/.test(t)) {
    throw new Error(`unknown target ${JSON.stringify(t)}: use direct, twemproxy or dynoproxy-w<workers>`);
  }
}

function regenerateReport(): void {
  const accept = (d: RedisBenchmarkResults): boolean => d.throughput !== undefined;
  const throughput = latestResult<RedisBenchmarkResults>(resultsDir, suiteName, accept);
  const idle = latestResult<RedisBenchmarkResults>(resultsDir, suiteName, (d) => d.idle !== undefined);
  let doc: string | undefined;
  try {
    doc = readFileSync(benchmarksDoc, 'utf8');
  } catch {
    doc = undefined;
  }
  writeFileSync(benchmarksDoc, replaceGeneratedSection(doc, suiteName, renderRedisBenchmarkReport(throughput, idle)));
  log(`rewrote the ${suiteName} block of BENCHMARKS.md`);
}

if (values['report-only']) {
  regenerateReport();
  process.exit(0);
}

// Each idle connection is one fd here and one in the server; children inherit the raised limit.
const fdLimit = ensureOpenFileLimit(Math.max(4096, options.idle * 2 + 1024));
if (options.idle > 0 && fdLimit < options.idle + 256) {
  throw new Error(`open-file limit ${fdLimit} is too low for --idle ${options.idle} (the hard limit caps it)`);
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

async function startTarget(ctx: LaunchContext, name: string, redis: RunningServer): Promise<RunningServer> {
  if (name === 'twemproxy') return startTwemproxy(ctx, [redis]);
  const workers = Number(/^dynoproxy-w(\d+)$/.exec(name)![1]);
  return startDynoproxy(ctx, [redis], { workers });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const tmpDir = join(resultsDir, 'tmp', fileStamp(startedAt));
  mkdirSync(tmpDir, { recursive: true });
  const group = new ProcessGroup();
  const ctx: LaunchContext = { group, dir: tmpDir };
  const results: RedisBenchmarkResults = {
    suite: suiteName,
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    git: gitState(),
    machine: describeMachine(),
    versions: {
      node: toolVersion(projectNodeBinary()),
      'redis-server': toolVersion('redis-server'),
      'redis-benchmark': toolVersion('redis-benchmark'),
      nutcracker: toolVersion('nutcracker'),
    },
    command: ['node_modules/.bin/node', 'bench/redis-benchmark.ts', ...process.argv.slice(2)].join(' '),
    options,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
  let ok = false;
  try {
    const redis = await startRedisServer(ctx);
    log(`redis-server pid ${redis.process.pid} on ${redis.port}`);

    if (options.rounds > 0 && options.targets.length > 0) {
      const targets: BenchTarget[] = [];
      for (const name of options.targets) {
        const server = name === 'direct' ? redis : await startTarget(ctx, name, redis);
        targets.push({ name, server, proxy: name === 'direct' ? undefined : server });
        if (name !== 'direct') log(`${name} pid ${server.process.pid} on ${server.port}`);
      }
      const allWorkersListening: Record<string, boolean> = {};
      for (const t of targets) {
        allWorkersListening[t.name] = t.server.allWorkersListening;
        if (!t.server.allWorkersListening) log(`warning: ${t.name} has fewer listeners than workers`);
      }
      const runs = await runThroughputRounds(group, redis, targets, {
        rounds: options.rounds,
        requests: options.requests,
        clients: options.clients,
        pipelines: options.pipelines,
        tests: ['set', 'get'],
        warmupRequests,
        quiet: options.quiet,
      }, log);
      const template = redisBenchmarkArgs({ ...redis, port: 0 }, '<set|get>', options.clients, options.requests, 0)
        .join(' ').replace('-p 0', '-p <port>').replace('-P 0', `-P <${options.pipelines.join('|')}>`);
      results.throughput = {
        redisBenchmarkCommand: `redis-benchmark ${template}`,
        allWorkersListening,
        runs,
        summary: summariseRuns(runs, results.clockTicksPerSecond),
      };
      for (const t of targets) if (t.proxy !== undefined) await t.proxy.process.stop();
    }

    if (options.idle > 0) {
      const idleResults: IdleResult[] = [];
      for (const name of options.targets) {
        // A fresh proxy, so the baseline is not inflated by the throughput runs; direct measures Redis itself.
        const server = name === 'direct' ? redis : await startTarget(ctx, name, redis);
        try {
          idleResults.push(await measureIdleConnections(server, name, options.idle, log));
        } finally {
          if (name !== 'direct') await server.process.stop();
        }
      }
      results.idle = { connections: options.idle, results: idleResults };
    }

    results.finishedAt = new Date().toISOString();
    const path = writeResults(resultsDir, suiteName, startedAt, results);
    log(`wrote ${path}`);
    if (!values['no-report']) regenerateReport();
    ok = true;
  } finally {
    await group.stopAll();
    if (ok && !values['keep-tmp']) {
      rmSync(tmpDir, { recursive: true, force: true });
    } else {
      log(`logs and configs kept in ${tmpDir}`);
    }
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
