// Admin-API cost benchmark: redis-benchmark through dynoproxy alone, then while autocannon hammers /info and /metrics, in one run, on one machine.
// Never leaves a process running and never loops unbounded: every phase has a fixed request count, and autocannon stops when redis-benchmark does.
//
// Run: node_modules/.bin/node bench/admin/admin-load.ts [--requests 100000] [--workers 1] [--rounds 3]
// Phases are interleaved per round and each waits (bounded) for a quiet machine; medians are reported.
// autocannon runs in this process, on the same 2 cores: its own CPU is part of what the data plane loses.
// Prints one JSON object (and writes it to bench/results/<stamp>-admin-load.json).
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProcessGroup } from '../lib/process-group.ts';
import { freePort } from '../lib/free-port.ts';
import { launchOnFreePort, loopback, projectNodeBinary, repoRoot, startRedisServer, type LaunchContext, type RunningServer } from '../lib/server-launchers.ts';
import { parseRedisBenchmarkCsv } from '../lib/redis-benchmark-csv.ts';
import { describeMachine } from '../lib/machine-info.ts';
import { writeResults } from '../lib/results-store.ts';
import { waitForQuietMachine } from '../lib/quiet-machine.ts';
import { median, relativeSpread } from '../lib/median.ts';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  '2xx': number;
  errors: number;
}
interface AutocannonInstance {
  stop(): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => AutocannonInstance;
// autocannon ships no types.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    clients: { type: 'string', default: '50' },
  },
});
const requests = Number(values.requests);
const workers = Number(values.workers);
const clients = Number(values.clients);
const rounds = Number(values.rounds);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

async function startProxy(ctx: LaunchContext, backend: RunningServer, name: string, adminPort: number, env: NodeJS.ProcessEnv): Promise<RunningServer> {
  return launchOnFreePort(ctx, name, workers, async (port) => {
    const configPath = join(ctx.dir, `${name}.yml`);
    writeFileSync(
      configPath,
      ['bench_pool:', `  listen: ${loopback}:${port}`, `  stats_listen: ${loopback}:${adminPort}`, '  servers:', `    - ${backend.host}:${backend.port}:1`, '  timeout: 5000', ''].join('\n'),
    );
    return ctx.group.start({
      name,
      command: projectNodeBinary(),
      args: [join(repoRoot, 'src', 'cli.ts'), '-c', configPath, '--workers', String(workers)],
      cwd: repoRoot,
      logPath: join(ctx.dir, `${name}.log`),
      env: { ...process.env, ...env },
    });
  });
}

async function redisBenchmark(group: ProcessGroup, port: number): Promise<Record<string, number>> {
  const { stdout } = await group.run(
    { name: 'redis-benchmark', command: 'redis-benchmark', args: ['-h', loopback, '-p', String(port), '-t', 'set,get', '-n', String(requests), '-c', String(clients), '-P', '1', '-r', '100000', '--csv', '-q'] },
    120_000,
  );
  return Object.fromEntries(parseRedisBenchmarkCsv(stdout).map((r) => [r.test, r.rps]));
}

/** Admin load for as long as `during` runs: two connections on /info and two on /metrics, as fast as they are answered (or at `rate`). */
async function withAdminLoad<T>(adminPort: number, rate: number | undefined, during: () => Promise<T>): Promise<{ value: T; admin: Record<string, { rps: number; total: number; ok: number; non2xx: number; p99ms: number }> }> {
  const runs = ['/info', '/metrics'].map((path) => {
    let inst: AutocannonInstance | null = null;
    const done = new Promise<AutocannonResult>((resolve, reject) => {
      inst = autocannon({ url: `http://${loopback}:${adminPort}${path}`, connections: 2, duration: 120, ...(rate !== undefined ? { overallRate: rate } : {}) }, (err, r) => (err !== null ? reject(err) : resolve(r)));
    });
    return { path, done, stop: () => (inst as AutocannonInstance | null)?.stop() };
  });
  const value = await during();
  for (const r of runs) r.stop();
  const admin: Record<string, { rps: number; total: number; ok: number; non2xx: number; p99ms: number }> = {};
  for (const r of runs) {
    const x = await r.done;
    admin[r.path] = { rps: Math.round(x.requests.average), total: x.requests.total, ok: x['2xx'], non2xx: x.non2xx, p99ms: x.latency.p99 };
  }
  return { value, admin };
}

const group = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'dynoproxy-admin-bench-'));
const ctx: LaunchContext = { group, dir };
try {
  const redis = await startRedisServer(ctx);
  const [adminA, adminB] = await Promise.all([freePort(), freePort()]);
  // One proxy with the default admin rate limit (200/s per address), one with it lifted to measure the cost of serving itself.
  const limited = await startProxy(ctx, redis, `dynoproxy-w${workers}-limited`, adminA, {});
  const lifted = await startProxy(ctx, redis, `dynoproxy-w${workers}-lifted`, adminB, { DYNOPROXY_ADMIN_RATE: '1000000' });
  type Load = 'none' | 'flood' | 'steady20';
  const plan: { name: string; proxy: RunningServer; admin: number; load: Load }[] = [
    { name: 'baseline', proxy: limited, admin: adminA, load: 'none' },
    { name: 'flood_rate_limited', proxy: limited, admin: adminA, load: 'flood' },
    { name: 'baseline_lifted', proxy: lifted, admin: adminB, load: 'none' },
    { name: 'steady_20rps', proxy: lifted, admin: adminB, load: 'steady20' },
    { name: 'flood_unlimited', proxy: lifted, admin: adminB, load: 'flood' },
  ];
  const samples = new Map<string, { SET: number[]; GET: number[]; admin: unknown[]; quiet: boolean[] }>();
  for (let round = 1; round <= rounds; round++) {
    for (const ph of plan) {
      const q = await waitForQuietMachine({ threshold: 0.25, maxWaitMs: 20_000, ownPids: [process.pid, redis.process.pid, limited.process.pid, lifted.process.pid] });
      log(`round ${round}: ${ph.name}${q.quiet ? '' : ` (machine busy: others at ${(q.otherLoad * 100).toFixed(0)}%)`}`);
      const run = (): Promise<Record<string, number>> => redisBenchmark(group, ph.proxy.port);
      const r = ph.load === 'none' ? { value: await run(), admin: null } : await withAdminLoad(ph.admin, ph.load === 'steady20' ? 20 : undefined, run);
      const s = samples.get(ph.name) ?? { SET: [], GET: [], admin: [], quiet: [] };
      s.SET.push(r.value['SET'] ?? NaN);
      s.GET.push(r.value['GET'] ?? NaN);
      s.admin.push(r.admin);
      s.quiet.push(q.quiet);
      samples.set(ph.name, s);
    }
  }
  const phases: Record<string, unknown> = {};
  for (const ph of plan) {
    const s = samples.get(ph.name)!;
    const base = samples.get(ph.proxy === limited ? 'baseline' : 'baseline_lifted')!;
    phases[ph.name] = {
      setRps: median(s.SET),
      getRps: median(s.GET),
      setVsBaseline: median(s.SET) / median(base.SET),
      getVsBaseline: median(s.GET) / median(base.GET),
      spread: { SET: relativeSpread(s.SET), GET: relativeSpread(s.GET) },
      quietRuns: s.quiet.filter(Boolean).length,
      runs: { SET: s.SET, GET: s.GET },
      adminLastRound: s.admin.at(-1),
    };
  }
  const result = { suite: 'admin-load', machine: describeMachine(), workers, clients, requests, rounds, phases };
  const resultsDir = join(repoRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = writeResults(resultsDir, 'admin-load', new Date(), result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  log(`written to ${file}`);
} finally {
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
