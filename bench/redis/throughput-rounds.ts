// Runs redis-benchmark against every target in interleaved rounds and measures CPU per request.
// Never runs all rounds of one target back to back, and never runs without a request count and timeout.
import { median, relativeSpread } from '../lib/median.ts';
import type { ProcessGroup } from '../lib/process-group.ts';
import { readCpuTicks, readReapedChildrenCpuTicks, readRssKb, readSystemCpuTicks } from '../lib/proc-stats.ts';
import { parseRedisBenchmarkCsv } from '../lib/redis-benchmark-csv.ts';
import { waitForQuietMachine } from '../lib/quiet-machine.ts';
import { assertServing } from '../lib/server-launchers.ts';
import type { RunningServer } from '../lib/server-launchers.ts';
import type { ThroughputRun, ThroughputSummary } from './result-types.ts';

export interface BenchTarget {
  name: string;
  server: RunningServer;
  /** The proxy process whose CPU is measured; undefined when clients talk to Redis directly. */
  proxy: RunningServer | undefined;
}

export interface ThroughputOptions {
  rounds: number;
  requests: number;
  clients: number;
  pipelines: readonly number[];
  /** redis-benchmark tests, run as separate invocations so CPU is measured per test. SET first fills the key GET reads. */
  tests: readonly string[];
  warmupRequests: number;
  /** Before each run, wait up to perRunMs (and at most totalMs over all runs) for others' CPU use to drop to threshold. */
  quiet: { threshold: number; perRunMs: number; totalMs: number };
}

export function redisBenchmarkArgs(server: RunningServer, test: string, clients: number, requests: number, pipeline: number): string[] {
  return ['-h', server.host, '-p', String(server.port), '-t', test, '-c', String(clients), '-n', String(requests), '-P', String(pipeline), '-q', '--csv'];
}

async function runRedisBenchmark(group: ProcessGroup, args: readonly string[], requests: number): Promise<string> {
  // Generous: a healthy target does at least tens of thousands of requests per second here.
  const timeoutMs = 30_000 + requests / 2;
  const { stdout } = await group.run({ name: 'redis-benchmark', command: 'redis-benchmark', args }, timeoutMs);
  return stdout;
}

function assertAlive(target: BenchTarget, redis: RunningServer): void {
  if (target.proxy !== undefined) assertServing(target.proxy);
  assertServing(redis);
}

/** CPU ticks of a server; if its /proc entry is gone, report how it ended rather than ENOENT. */
async function cpuTicksOf(server: RunningServer): Promise<number> {
  try {
    return readCpuTicks(server.process.pid);
  } catch (err) {
    await Promise.race([server.process.exited, new Promise((r) => setTimeout(r, 500))]);
    assertServing(server);
    throw err;
  }
}

/** Unmeasured runs so JIT compilers, allocators and connection pools are warm before round 1. */
async function warmUp(group: ProcessGroup, targets: readonly BenchTarget[], options: ThroughputOptions, redis: RunningServer): Promise<void> {
  for (const target of targets) {
    for (const pipeline of options.pipelines) {
      const args = redisBenchmarkArgs(target.server, options.tests.join(','), options.clients, options.warmupRequests, pipeline);
      await runRedisBenchmark(group, args, options.warmupRequests * options.tests.length);
      assertAlive(target, redis);
    }
  }
}

export async function runThroughputRounds(
  group: ProcessGroup,
  redis: RunningServer,
  targets: readonly BenchTarget[],
  options: ThroughputOptions,
  log: (line: string) => void,
): Promise<ThroughputRun[]> {
  if (options.warmupRequests > 0) {
    log(`warm-up: ${options.warmupRequests} requests per test, pipeline and target`);
    await warmUp(group, targets, options, redis);
  }
  const runs: ThroughputRun[] = [];
  const ownPids = [process.pid, redis.process.pid, ...targets.flatMap((t) => (t.proxy === undefined ? [] : [t.proxy.process.pid]))];
  let quietBudgetMs = options.quiet.totalMs;
  for (let round = 1; round <= options.rounds; round++) {
    for (const pipeline of options.pipelines) {
      for (const target of targets) {
        for (const test of options.tests) {
          assertAlive(target, redis);
          let quietWaitMs = 0;
          if (options.quiet.perRunMs > 0 && quietBudgetMs > 0) {
            const wait = await waitForQuietMachine({
              threshold: options.quiet.threshold,
              maxWaitMs: Math.min(options.quiet.perRunMs, quietBudgetMs),
              windowMs: 200,
              ownPids,
            });
            quietWaitMs = wait.waitedMs;
            quietBudgetMs -= wait.waitedMs;
          }
          const proxyPid = target.proxy?.process.pid;
          const args = redisBenchmarkArgs(target.server, test, options.clients, options.requests, pipeline);
          const systemBefore = readSystemCpuTicks();
          const selfBefore = readCpuTicks(process.pid);
          const clientBefore = readReapedChildrenCpuTicks();
          const proxyBefore = target.proxy === undefined ? 0 : await cpuTicksOf(target.proxy);
          const redisBefore = await cpuTicksOf(redis);
          const t0 = performance.now();
          const stdout = await runRedisBenchmark(group, args, options.requests);
          const elapsedMs = performance.now() - t0;
          const redisAfter = await cpuTicksOf(redis);
          const proxyAfter = target.proxy === undefined ? 0 : await cpuTicksOf(target.proxy);
          const clientTicks = readReapedChildrenCpuTicks() - clientBefore;
          const selfTicks = readCpuTicks(process.pid) - selfBefore;
          const systemAfter = readSystemCpuTicks();
          const ours = redisAfter - redisBefore + proxyAfter - proxyBefore + clientTicks + selfTicks;
          assertAlive(target, redis);
          const row = parseRedisBenchmarkCsv(stdout).find((r) => r.test === test.toUpperCase());
          if (row === undefined) throw new Error(`no ${test.toUpperCase()} row in redis-benchmark output:\n${stdout}`);
          const run: ThroughputRun = {
            round,
            pipeline,
            target: target.name,
            test: row.test,
            requests: options.requests,
            rps: row.rps,
            p50LatencyMs: row.p50LatencyMs,
            p99LatencyMs: row.p99LatencyMs,
            elapsedMs: Math.round(elapsedMs),
            quietWaitMs,
            proxyCpuTicks: proxyPid === undefined ? null : proxyAfter - proxyBefore,
            redisCpuTicks: redisAfter - redisBefore,
            clientCpuTicks: clientTicks,
            // Ticks are sampled at different instants per process, so a quiet machine can read slightly negative.
            otherCpuTicks: Math.max(0, systemAfter.busy - systemBefore.busy - ours),
            machineCpuTicks: systemAfter.total - systemBefore.total,
            proxyRssKb: proxyPid === undefined ? null : readRssKb(proxyPid),
          };
          runs.push(run);
          log(formatRun(run));
        }
      }
    }
  }
  return runs;
}

function usPerRequest(ticks: number, requests: number, clockTicks: number): number {
  return (ticks / clockTicks) * 1e6 / requests;
}

function formatRun(run: ThroughputRun): string {
  const proxy = run.proxyCpuTicks === null ? '' : `  proxy ${run.proxyCpuTicks} ticks`;
  const other = Math.round((100 * run.otherCpuTicks) / Math.max(1, run.machineCpuTicks));
  return `round ${run.round} P${run.pipeline} ${run.target.padEnd(14)} ${run.test} ${Math.round(run.rps).toLocaleString('en-US').padStart(10)} rps${proxy}  redis ${run.redisCpuTicks}  client ${run.clientCpuTicks} ticks  other load ${other}%`;
}

/** One summary per (pipeline, target, test), in the order the runs first appear. */
export function summariseRuns(runs: readonly ThroughputRun[], clockTicks: number): ThroughputSummary[] {
  const groups = new Map<string, ThroughputRun[]>();
  for (const run of runs) {
    const key = `${run.pipeline}\u0000${run.target}\u0000${run.test}`;
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(run);
  }
  return [...groups.values()].map((list) => {
    const first = list[0]!;
    const requests = list.reduce((sum, r) => sum + r.requests, 0);
    const proxyTicks = first.proxyCpuTicks === null ? null : list.reduce((sum, r) => sum + (r.proxyCpuTicks ?? 0), 0);
    const rssValues = list.map((r) => r.proxyRssKb).filter((v): v is number => v !== null);
    return {
      pipeline: first.pipeline,
      target: first.target,
      test: first.test,
      rounds: list.length,
      rps: median(list.map((r) => r.rps)),
      rpsSpread: relativeSpread(list.map((r) => r.rps)),
      p50LatencyMs: median(list.map((r) => r.p50LatencyMs)),
      p99LatencyMs: median(list.map((r) => r.p99LatencyMs)),
      proxyCpuUsPerRequest: proxyTicks === null ? null : usPerRequest(proxyTicks, requests, clockTicks),
      redisCpuUsPerRequest: usPerRequest(list.reduce((sum, r) => sum + r.redisCpuTicks, 0), requests, clockTicks),
      clientCpuUsPerRequest: usPerRequest(list.reduce((sum, r) => sum + r.clientCpuTicks, 0), requests, clockTicks),
      otherLoad: median(list.map((r) => r.otherCpuTicks / Math.max(1, r.machineCpuTicks))),
      proxyRssKb: rssValues.length === 0 ? null : Math.max(...rssValues),
    };
  });
}
