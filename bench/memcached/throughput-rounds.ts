// Runs the memcached load client against every target in interleaved rounds and measures CPU per request per process.
// Never runs all rounds of one target back to back, never keeps a run whose replies were wrong, never runs without bounds.
import { median, relativeSpread } from '../lib/median.ts';
import { readCpuTicks, readRssKb, readSystemCpuTicks } from '../lib/proc-stats.ts';
import { waitForQuietMachine } from '../lib/quiet-machine.ts';
import { assertServing } from '../lib/server-launchers.ts';
import type { RunningServer } from '../lib/server-launchers.ts';
import { runLoad } from './load-client.ts';
import type { LoadOp } from './load-protocol.ts';
import type { McThroughputRun, McThroughputSummary } from './result-types.ts';

export interface McBenchTarget {
  name: string;
  server: RunningServer;
  /** The proxy whose CPU is measured; undefined when the client talks to memcached directly. */
  proxy: RunningServer | undefined;
}

export interface McThroughputOptions {
  rounds: number;
  requests: number;
  clients: number;
  pipelines: readonly number[];
  /** set first: it rewrites the keys get reads. */
  tests: readonly LoadOp[];
  keys: number;
  valueSize: number;
  clientThreads: number;
  warmupRequests: number;
  /** Bound of one run, whatever its request count. */
  maxSeconds: number;
  quiet: { threshold: number; perRunMs: number; totalMs: number };
}

function assertAlive(target: McBenchTarget, memcached: RunningServer): void {
  if (target.proxy !== undefined) assertServing(target.proxy);
  assertServing(memcached);
}

async function load(target: McBenchTarget, o: McThroughputOptions, op: LoadOp, pipeline: number, requests: number, onStart?: () => void) {
  const result = await runLoad({
    host: target.server.host,
    port: target.server.port,
    op,
    connections: o.clients,
    pipeline,
    requests,
    keys: o.keys,
    valueSize: o.valueSize,
    threads: o.clientThreads,
    maxSeconds: o.maxSeconds,
    onStart,
  });
  if (result.errors > 0 || result.requests !== requests) {
    throw new Error(`${target.name} ${op} P${pipeline}: ${result.requests}/${requests} requests, ${result.errors} errors: ${result.firstError}`);
  }
  return result;
}

export async function runMcThroughputRounds(
  memcached: RunningServer,
  targets: readonly McBenchTarget[],
  o: McThroughputOptions,
  log: (line: string) => void,
): Promise<McThroughputRun[]> {
  if (o.warmupRequests > 0) {
    log(`warm-up: ${o.warmupRequests} requests per test, pipeline and target`);
    for (const target of targets) {
      for (const pipeline of o.pipelines) for (const op of o.tests) await load(target, o, op, pipeline, o.warmupRequests);
      assertAlive(target, memcached);
    }
  }
  const runs: McThroughputRun[] = [];
  const ownPids = [process.pid, memcached.process.pid, ...targets.flatMap((t) => (t.proxy === undefined ? [] : [t.proxy.process.pid]))];
  let quietBudgetMs = o.quiet.totalMs;
  for (let round = 1; round <= o.rounds; round++) {
    for (const pipeline of o.pipelines) {
      for (const target of targets) {
        for (const op of o.tests) {
          assertAlive(target, memcached);
          let quietWaitMs = 0;
          if (o.quiet.perRunMs > 0 && quietBudgetMs > 0) {
            const wait = await waitForQuietMachine({ threshold: o.quiet.threshold, maxWaitMs: Math.min(o.quiet.perRunMs, quietBudgetMs), windowMs: 200, ownPids });
            quietWaitMs = wait.waitedMs;
            quietBudgetMs -= wait.waitedMs;
          }
          const proxyPid = target.proxy?.process.pid;
          let before = { system: readSystemCpuTicks(), self: 0, proxy: 0, memcached: 0 };
          // Counters are read once every connection is open, so connection setup is not in the figures.
          const result = await load(target, o, op, pipeline, o.requests, () => {
            before = {
              system: readSystemCpuTicks(),
              self: readCpuTicks(process.pid),
              proxy: proxyPid === undefined ? 0 : readCpuTicks(proxyPid),
              memcached: readCpuTicks(memcached.process.pid),
            };
          });
          const memcachedTicks = readCpuTicks(memcached.process.pid) - before.memcached;
          const proxyTicks = proxyPid === undefined ? null : readCpuTicks(proxyPid) - before.proxy;
          const clientTicks = readCpuTicks(process.pid) - before.self;
          const system = readSystemCpuTicks();
          assertAlive(target, memcached);
          const ours = memcachedTicks + (proxyTicks ?? 0) + clientTicks;
          const run: McThroughputRun = {
            round,
            pipeline,
            target: target.name,
            test: op.toUpperCase(),
            requests: result.requests,
            rps: result.rps,
            p50LatencyMs: result.p50LatencyUs / 1000,
            p99LatencyMs: result.p99LatencyUs / 1000,
            elapsedMs: Math.round(result.elapsedMs),
            quietWaitMs,
            proxyCpuTicks: proxyTicks,
            memcachedCpuTicks: memcachedTicks,
            clientCpuTicks: clientTicks,
            otherCpuTicks: Math.max(0, system.busy - before.system.busy - ours),
            machineCpuTicks: system.total - before.system.total,
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

function formatRun(run: McThroughputRun): string {
  const proxy = run.proxyCpuTicks === null ? '' : `  proxy ${run.proxyCpuTicks} ticks`;
  const other = Math.round((100 * run.otherCpuTicks) / Math.max(1, run.machineCpuTicks));
  return `round ${run.round} P${run.pipeline} ${run.target.padEnd(14)} ${run.test} ${Math.round(run.rps).toLocaleString('en-US').padStart(10)} rps${proxy}  memcached ${run.memcachedCpuTicks}  client ${run.clientCpuTicks} ticks  other load ${other}%`;
}

const usPerRequest = (ticks: number, requests: number, clockTicks: number): number => ((ticks / clockTicks) * 1e6) / requests;

/** One summary per (pipeline, target, test), in the order the runs first appear; CPU pooled over rounds. */
export function summariseMcRuns(runs: readonly McThroughputRun[], clockTicks: number): McThroughputSummary[] {
  const groups = new Map<string, McThroughputRun[]>();
  for (const run of runs) {
    const key = `${run.pipeline}\u0000${run.target}\u0000${run.test}`;
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(run);
  }
  return [...groups.values()].map((list) => {
    const first = list[0]!;
    const requests = list.reduce((s, r) => s + r.requests, 0);
    const rss = list.map((r) => r.proxyRssKb).filter((v): v is number => v !== null);
    return {
      pipeline: first.pipeline,
      target: first.target,
      test: first.test,
      rounds: list.length,
      rps: median(list.map((r) => r.rps)),
      rpsSpread: relativeSpread(list.map((r) => r.rps)),
      p50LatencyMs: median(list.map((r) => r.p50LatencyMs)),
      p99LatencyMs: median(list.map((r) => r.p99LatencyMs)),
      proxyCpuUsPerRequest: first.proxyCpuTicks === null ? null : usPerRequest(list.reduce((s, r) => s + (r.proxyCpuTicks ?? 0), 0), requests, clockTicks),
      memcachedCpuUsPerRequest: usPerRequest(list.reduce((s, r) => s + r.memcachedCpuTicks, 0), requests, clockTicks),
      clientCpuUsPerRequest: usPerRequest(list.reduce((s, r) => s + r.clientCpuTicks, 0), requests, clockTicks),
      otherLoad: median(list.map((r) => r.otherCpuTicks / Math.max(1, r.machineCpuTicks))),
      proxyRssKb: rss.length === 0 ? null : Math.max(...rss),
    };
  });
}
