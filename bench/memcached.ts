// End-to-end benchmark: one load client against direct memcached, twemproxy and dynoproxy (1 and 2 workers), interleaved.
// Never leaves a process running, never overwrites an earlier results file, never edits BENCHMARKS.md outside its own block.
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
import { projectNodeBinary, repoRoot, startDynoproxy, startMemcached, startTwemproxy } from './lib/server-launchers.ts';
import { fillKeys } from './memcached/load-client.ts';
import { renderMcBenchmarkReport } from './memcached/memcached-report.ts';
import type { McBenchmarkResults } from './memcached/result-types.ts';
import { suiteName } from './memcached/result-types.ts';
import type { McBenchTarget } from './memcached/throughput-rounds.ts';
import { runMcThroughputRounds, summariseMcRuns } from './memcached/throughput-rounds.ts';

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
    keys: { type: 'string', default: '10000' },
    'value-size': { type: 'string', default: '32' },
    'client-threads': { type: 'string', default: '1' },
    warmup: { type: 'string', default: '20000' },
    'max-seconds': { type: 'string', default: '60' },
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
  process.stdout.write(`usage: node_modules/.bin/node bench/memcached.ts [--rounds 5] [--requests 200000]
  [--targets direct,twemproxy,dynoproxy-w1,dynoproxy-w2] [--pipelines 1,16] [--clients 50]
  [--keys 10000] [--value-size 32] [--client-threads 1] [--warmup 20000] [--max-seconds 60 (per run)]
  [--report-only] [--no-report] [--keep-tmp] [--quiet-threshold 0.1] [--quiet-wait 10] [--quiet-budget 60]
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
  keys: count('keys', values.keys, 1),
  valueSize: count('value-size', values['value-size'], 0),
  clientThreads: count('client-threads', values['client-threads'], 1),
  quiet: {
    threshold: Number(values['quiet-threshold']),
    perRunMs: count('quiet-wait', values['quiet-wait'], 0) * 1000,
    totalMs: count('quiet-budget', values['quiet-budget'], 0) * 1000,
  },
};
const warmupRequests = count('warmup', values.warmup, 0);
const maxSeconds = count('max-seconds', values['max-seconds'], 1);
for (const t of options.targets) {
  if (!/^(direct|twemproxy|dynoproxy-w[1-9]\d*)$/.test(t)) throw new Error(`unknown target ${JSON.stringify(t)}: use direct, twemproxy or dynoproxy-w<workers>`);
}

function regenerateReport(): void {
  const latest = latestResult<McBenchmarkResults>(resultsDir, suiteName, (d) => d.throughput !== undefined);
  let doc: string | undefined;
  try {
    doc = readFileSync(benchmarksDoc, 'utf8');
  } catch {
    doc = undefined;
  }
  writeFileSync(benchmarksDoc, replaceGeneratedSection(doc, suiteName, renderMcBenchmarkReport(latest)));
  log(`rewrote the ${suiteName} block of BENCHMARKS.md`);
}

if (values['report-only']) {
  regenerateReport();
  process.exit(0);
}

ensureOpenFileLimit(4096);

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

async function startTarget(ctx: LaunchContext, name: string, memcached: RunningServer): Promise<RunningServer> {
  if (name === 'twemproxy') return startTwemproxy(ctx, [memcached], { redis: false });
  const workers = Number(/^dynoproxy-w(\d+)$/.exec(name)![1]);
  return startDynoproxy(ctx, [memcached], { workers, dataStore: 1 });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const tmpDir = join(resultsDir, 'tmp', `${fileStamp(startedAt)}-memcached`);
  mkdirSync(tmpDir, { recursive: true });
  const group = new ProcessGroup();
  const ctx: LaunchContext = { group, dir: tmpDir };
  const client = `bench/memcached/load-client.ts: ${options.clientThreads} worker thread(s) of raw sockets, closed loop: each connection writes P requests (fixed-width keys, one prebuilt buffer), waits for all P replies (checked byte count and tail), then writes the next P`;
  const results: McBenchmarkResults = {
    suite: suiteName,
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    git: gitState(),
    machine: describeMachine(),
    versions: { node: toolVersion(projectNodeBinary()), memcached: toolVersion('memcached', ['-V']), nutcracker: toolVersion('nutcracker') },
    command: ['node_modules/.bin/node', 'bench/memcached.ts', ...process.argv.slice(2)].join(' '),
    options,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
  let ok = false;
  try {
    const memcached = await startMemcached(ctx);
    log(`memcached pid ${memcached.process.pid} on ${memcached.port}`);
    await fillKeys(memcached.host, memcached.port, options.keys, options.valueSize);
    const targets: McBenchTarget[] = [];
    for (const name of options.targets) {
      const server = name === 'direct' ? memcached : await startTarget(ctx, name, memcached);
      targets.push({ name, server, proxy: name === 'direct' ? undefined : server });
      if (name !== 'direct') log(`${name} pid ${server.process.pid} on ${server.port}`);
    }
    const allWorkersListening = Object.fromEntries(targets.map((t) => [t.name, t.server.allWorkersListening]));
    const runs = await runMcThroughputRounds(memcached, targets, {
      rounds: options.rounds,
      requests: options.requests,
      clients: options.clients,
      pipelines: options.pipelines,
      tests: ['set', 'get'],
      keys: options.keys,
      valueSize: options.valueSize,
      clientThreads: options.clientThreads,
      warmupRequests,
      maxSeconds,
      quiet: options.quiet,
    }, log);
    results.throughput = { client, allWorkersListening, runs, summary: summariseMcRuns(runs, results.clockTicksPerSecond) };
    results.finishedAt = new Date().toISOString();
    const path = writeResults(resultsDir, suiteName, startedAt, results);
    log(`wrote ${path}`);
    if (!values['no-report']) regenerateReport();
    ok = true;
  } finally {
    await group.stopAll();
    if (ok && !values['keep-tmp']) rmSync(tmpDir, { recursive: true, force: true });
    else log(`logs and configs kept in ${tmpDir}`);
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
