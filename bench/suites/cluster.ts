// Suite "cluster": a 3-rack dynoproxy cluster (one node and one Redis per rack) at DC_ONE and at DC_QUORUM, clients on
// rack 1's node, against direct Redis and a single dynoproxy node. Never reads a cluster's figures before every node sees its peers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../lib/free-port.ts';
import type { LaunchContext, RunningServer } from '../lib/server-launchers.ts';
import { dynoproxyEntry, launchOnFreePort, loopback, projectNodeBinary, repoRoot, startRedisServer } from '../lib/server-launchers.ts';
import { waitUntil } from '../lib/wait-for-port.ts';
import { throughputChart } from '../charts/suite-charts.ts';
import type { BenchSuite, SuiteContext, SuiteOutcome } from './harness/suite-api.ts';
import { closedScenario, fillForReads, selectScenarios, startTargets } from './harness/suite-api.ts';
import { fillKeys } from '../loadgen/fill-keys.ts';
import { runInterleaved, summarizeRecords } from './harness/rounds.ts';
import { chartLinks, machineLine, methodLines, provenance, scenarioList, summaryTable } from './harness/suite-report.ts';
import type { Scenario, SuiteResults } from './harness/suite-types.ts';
import { startBackend, stopTargets } from './harness/targets.ts';
import type { LiveTarget } from './harness/targets.ts';

const RACKS = ['rack1', 'rack2', 'rack3'];
/** One node per rack owns the whole ring, so each rack holds a full copy (as conf/cluster-3racks.yml). */
const TOKEN = '101134286';
const READY_MS = 60_000;

type Level = 'DC_ONE' | 'DC_QUORUM';

/** The last "peer up"/"peer down" a node logged per peer name. */
function peersUp(log: string): Set<string> {
  const state = new Map<string, boolean>();
  for (const line of log.split('\n')) {
    if (!line.includes('"msg":"peer ')) continue;
    try {
      const e = JSON.parse(line) as { peer?: unknown; up?: unknown };
      if (typeof e.peer === 'string' && typeof e.up === 'boolean') state.set(e.peer, e.up);
    } catch {
      // a line being written
    }
  }
  return new Set([...state].filter(([, up]) => up).map(([peer]) => peer));
}

async function startCluster(ctx: SuiteContext, launch: LaunchContext, level: Level): Promise<LiveTarget> {
  const name = `cluster-${level === 'DC_ONE' ? 'dc-one' : 'dc-quorum'}`;
  const redises: RunningServer[] = [];
  const nodes: RunningServer[] = [];
  try {
    for (const rack of RACKS) redises.push(await startRedisServer(launch, `${name}-redis-${rack}`));
    const peerPorts = await freePorts(RACKS.length);
    const statsPorts = await freePorts(RACKS.length);
    for (let i = 0; i < RACKS.length; i++) {
      const nodeName = `${name}-${RACKS[i]}`;
      nodes.push(await launchOnFreePort(launch, nodeName, 1, async (port) => {
        const yaml = [
          'dyn_o_mite:',
          '  datacenter: dc1',
          `  rack: ${RACKS[i]}`,
          `  listen: ${loopback}:${port}`,
          `  dyn_listen: ${loopback}:${peerPorts[i]}`,
          '  dyn_seed_provider: simple_provider',
          '  dyn_seeds:',
          ...RACKS.flatMap((r, j) => (j === i ? [] : [`  - ${loopback}:${peerPorts[j]}:${r}:dc1:${TOKEN}`])),
          `  tokens: '${TOKEN}'`,
          '  data_store: 0',
          '  servers:',
          `  - ${loopback}:${redises[i]!.port}:1`,
          `  read_consistency: ${level}`,
          `  write_consistency: ${level}`,
          '  timeout: 5000',
          '  preconnect: true',
          `  stats_listen: ${loopback}:${statsPorts[i]}`,
          '',
        ].join('\n');
        const configPath = join(launch.dir, `${nodeName}.yml`);
        writeFileSync(configPath, yaml);
        return launch.group.start({
          name: nodeName,
          command: projectNodeBinary(),
          args: [dynoproxyEntry, '-c', configPath, '--workers', '1'],
          cwd: repoRoot,
          logPath: join(launch.dir, `${nodeName}.log`),
        });
      }));
    }
    const wanted = (i: number): string[] => peerPorts.filter((_, j) => j !== i).map((p) => `${loopback}:${p}`);
    const ready = await waitUntil(() => nodes.every((n, i) => {
      const up = peersUp(readFileSync(n.process.logPath!, 'utf8'));
      return wanted(i).every((p) => up.has(p));
    }), READY_MS, 100);
    if (!ready) throw new Error(`${name}: not every node saw its peers up within ${READY_MS} ms:\n${nodes.map((n) => n.process.logTail(5)).join('\n')}`);
    ctx.log(`${name}: 3 racks up, clients on ${nodes[0]!.port} (pids ${nodes.map((n) => n.process.pid).join(', ')})`);
    return { spec: { name, kind: 'dynoproxy', workers: 1 }, server: nodes[0]!, proxy: nodes[0]!, proxies: nodes, backends: redises };
  } catch (err) {
    await Promise.all([...nodes, ...redises].map((s) => s.process.stop()));
    throw err;
  }
}

export const clusterSuite: BenchSuite = {
  name: 'cluster',
  description: '3-rack cluster (a node and a Redis per rack) at DC_ONE and DC_QUORUM vs direct Redis and one dynoproxy node',
  defaults: { targets: 'direct,dynoproxy-w1', rounds: 3, warmupMs: 250, durationMs: 1000 },
  async run(ctx: SuiteContext): Promise<SuiteOutcome> {
    const launch: LaunchContext = { group: ctx.group, dir: ctx.dir };
    let scenarios: Scenario[] = [
      closedScenario('resp', 'get', 64, 1, 50),
      closedScenario('resp', 'set', 64, 1, 50),
      closedScenario('resp', 'get', 64, 16, 50),
      closedScenario('resp', 'set', 64, 16, 50),
    ];
    if (ctx.options.quick && ctx.options.only.length === 0) scenarios = scenarios.filter((s) => s.pipeline === 1);
    scenarios = selectScenarios(scenarios, ctx.options.only);
    const backend = await startBackend(launch, 'redis');
    const targets: LiveTarget[] = [];
    try {
      await fillForReads(backend, scenarios);
      targets.push(...(await startTargets(ctx, launch, backend, 'redis', ctx.options.targets)));
      for (const level of ['DC_ONE', 'DC_QUORUM'] as const) {
        const cluster = await startCluster(ctx, launch, level);
        targets.push(cluster);
        // Through the cluster, so every rack's Redis holds the keys GET reads (DC_QUORUM reads two racks).
        for (const s of scenarios) if (s.workload.command === 'get') await fillKeys(cluster.server.host, cluster.server.port, s.workload);
      }
      const runs = await runInterleaved(ctx.gen, targets, backend, scenarios, ctx.options, ctx.log);
      return { backend: 'redis', scenarios, runs, summary: summarizeRecords(runs, ctx.clockTicks) };
    } finally {
      await stopTargets(targets);
      await backend.process.stop();
    }
  },
  charts(results: SuiteResults): Record<string, string> {
    return { throughput: throughputChart(results) };
  },
  render(file: string, d: SuiteResults): string {
    return [
      '## Cluster: 3 racks at DC_ONE and DC_QUORUM (our load generator)',
      '',
      provenance(file, d),
      '',
      machineLine(d),
      '- `cluster-dc-one` and `cluster-dc-quorum`: three dynoproxy nodes (1 data worker each), one per rack of one datacenter,',
      '  each in front of its own Redis and owning the whole ring (every rack a full copy, as `conf/cluster-3racks.yml`);',
      '  clients talk to rack 1\'s node. DC_ONE answers from the local rack and replicates writes to the other racks',
      '  without waiting; DC_QUORUM waits for 2 of the 3 racks. "proxy CPU" sums the three nodes and "backend CPU" the',
      '  three Redis servers, per request; RSS is rack 1\'s node. `direct` and `dynoproxy-w1` (one node, one Redis) are',
      '  the references. Everything shares the same 2 cores, so a cluster pays for three proxies and three Redis here.',
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
      ...chartLinks(d),
    ].join('\n');
  },
};
