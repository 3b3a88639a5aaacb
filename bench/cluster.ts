// Cluster benchmark: a 3-rack single-DC dynoproxy cluster on loopback vs direct Redis, at DC_ONE and DC_QUORUM, plus owned vs forwarded keys.
// Never runs unbounded: every redis-benchmark run has a request count and a timeout, and every process started is stopped at the end.
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ProcessGroup } from './lib/process-group.ts';
import { freePorts } from './lib/free-port.ts';
import { waitForPort } from './lib/wait-for-port.ts';
import { parseRedisBenchmarkCsv } from './lib/redis-benchmark-csv.ts';
import { median } from './lib/median.ts';
import { describeMachine } from './lib/machine-info.ts';
import { replaceGeneratedSection, markdownTable } from './lib/benchmarks-doc.ts';
import { writeResults } from './lib/results-store.ts';
import { repoRoot } from './lib/server-launchers.ts';
import { hashFunction, TokenRing, parseDynToken } from '../src/topology/index.ts';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '50' },
  },
});
const ROUNDS = Number(opt.rounds);
const REQUESTS = Number(opt.requests);
const CLIENTS = Number(opt.clients);
const HOST = '127.0.0.1';

interface Node {
  rack: string;
  token: string;
  client: number;
  peer: number;
  admin: number;
  redis: number;
}

const group = new ProcessGroup();
const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-bench-cluster-'));

async function main(): Promise<void> {
  // rack1 has two nodes (so a key can be owned or forwarded), rack2 and rack3 one each.
  const layout: [string, string][] = [
    ['rack1', '1073741824'],
    ['rack1', '3221225472'],
    ['rack2', '101134286'],
    ['rack3', '101134286'],
  ];
  const ports = await freePorts(layout.length * 4 + 1);
  const nodes: Node[] = layout.map(([rack, token], i) => ({ rack, token, client: ports[4 * i], peer: ports[4 * i + 1], admin: ports[4 * i + 2], redis: ports[4 * i + 3] }));
  const directPort = ports[ports.length - 1];
  for (const port of [directPort, ...nodes.map((n) => n.redis)]) {
    const p = group.start({ name: `redis-${port}`, command: 'redis-server', args: ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], logPath: path.join(dir, `redis-${port}.log`) });
    await waitForPort(HOST, port, { process: p });
  }
  const node = path.join(repoRoot, 'node_modules', '.bin', 'node');
  for (const n of nodes) {
    const seeds = nodes.filter((o) => o !== n).map((o) => `  - ${HOST}:${o.peer}:${o.rack}:dc1:${o.token}`);
    const file = path.join(dir, `node-${n.client}.yml`);
    writeFileSync(
      file,
      ['bench_cluster:', '  datacenter: dc1', `  rack: ${n.rack}`, `  listen: ${HOST}:${n.client}`, `  dyn_listen: ${HOST}:${n.peer}`, '  dyn_seeds:', ...seeds,
        `  tokens: '${n.token}'`, '  servers:', `  - ${HOST}:${n.redis}:1`, '  timeout: 5000', '  preconnect: true', `  stats_listen: ${HOST}:${n.admin}`, ''].join('\n'),
    );
    const p = group.start({ name: `dynoproxy-${n.client}`, command: node, args: [path.join(repoRoot, 'src', 'cli.ts'), '-c', file, '--workers', '1'], logPath: path.join(dir, `node-${n.client}.log`), env: { ...process.env, DYNOPROXY_LOG_LEVEL: 'warn' } });
    await waitForPort(HOST, n.client, { process: p, deadlineMs: 30_000 });
  }
  // Let the failure detectors see every peer up before measuring.
  await new Promise((r) => setTimeout(r, 2500));

  const entry = nodes[0];
  const murmur = hashFunction('murmur');
  const ring = new TokenRing([parseDynToken(nodes[0].token), parseDynToken(nodes[1].token)], [0, 1]);
  const keyOwnedBy = (owner: number): string => {
    for (let i = 0; ; i++) {
      const k = Buffer.from(`bench:${i}`);
      if (ring.lookup(murmur(k, 0, k.length)) === owner) return k.toString();
    }
  };
  const owned = keyOwnedBy(0);
  const forwarded = keyOwnedBy(1);

  const setConsistency = async (level: string): Promise<void> => {
    for (const op of ['read', 'write']) {
      const res = await fetch(`http://${HOST}:${entry.admin}/set_consistency/${op}/${level}`, { method: 'POST' });
      if (!res.ok) throw new Error(`set_consistency ${op} ${level}: ${res.status}`);
    }
  };
  type Scenario = { name: string; port: number; level: string | null; args: string[] };
  const scenarios: Scenario[] = [];
  for (const pipeline of [1, 16]) {
    scenarios.push({ name: `direct redis, random keys, P${pipeline}`, port: directPort, level: null, args: ['-t', 'set,get', '-r', '100000', '-P', String(pipeline)] });
    for (const level of ['dc_one', 'dc_quorum']) {
      scenarios.push({ name: `cluster ${level.toUpperCase()}, random keys, P${pipeline}`, port: entry.client, level, args: ['-t', 'set,get', '-r', '100000', '-P', String(pipeline)] });
    }
  }
  for (const [label, key] of [['owned', owned], ['forwarded', forwarded]] as const) {
    scenarios.push({ name: `cluster DC_ONE, ${label} key GET, P1`, port: entry.client, level: 'dc_one', args: ['GET', key] });
  }
  scenarios.push({ name: 'direct redis, one key GET, P1', port: directPort, level: null, args: ['GET', owned] });

  const results = new Map<string, { test: string; rps: number[]; p50: number[]; p99: number[] }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of scenarios) {
      if (s.level !== null) await setConsistency(s.level);
      const { stdout } = await group.run(
        { name: 'redis-benchmark', command: 'redis-benchmark', args: ['-h', HOST, '-p', String(s.port), '-c', String(CLIENTS), '-n', String(REQUESTS), '--csv', ...s.args] },
        300_000,
      );
      const rows = parseRedisBenchmarkCsv(stdout);
      const acc = results.get(s.name) ?? rows.map((r) => ({ test: r.test, rps: [] as number[], p50: [] as number[], p99: [] as number[] }));
      rows.forEach((r, i) => {
        acc[i].rps.push(r.rps);
        acc[i].p50.push(r.p50LatencyMs);
        acc[i].p99.push(r.p99LatencyMs);
      });
      results.set(s.name, acc);
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${s.name}: ${rows.map((r) => `${r.test} ${Math.round(r.rps)}`).join(', ')}\n`);
    }
  }

  const startedAt = new Date();
  const summary = [...results.entries()].flatMap(([name, rows]) =>
    rows.map((r) => ({ scenario: name, test: r.test.split(' ')[0], rps: median(r.rps), p50Ms: median(r.p50), p99Ms: median(r.p99) })),
  );
  const file = writeResults(path.join(repoRoot, 'bench', 'results'), 'cluster', startedAt, { machine: describeMachine(), rounds: ROUNDS, requests: REQUESTS, clients: CLIENTS, summary });
  const directOf = (test: string, pipe: string): number => summary.find((r) => r.scenario.startsWith('direct redis, random') && r.scenario.endsWith(pipe) && r.test === test)?.rps ?? NaN;
  const table = markdownTable(
    ['scenario', 'test', 'ops/s (median)', 'vs direct', 'p50 ms', 'p99 ms'],
    summary.map((r) => {
      const pipe = r.scenario.slice(-3).trim();
      const direct = r.scenario.includes('one key') || r.scenario.includes('key GET') ? summary.find((x) => x.scenario === 'direct redis, one key GET, P1')?.rps ?? NaN : directOf(r.test, pipe);
      return [r.scenario, r.test, Math.round(r.rps).toLocaleString('en-US'), (r.rps / direct).toFixed(2), r.p50Ms.toFixed(3), r.p99Ms.toFixed(3)];
    }),
    ['l', 'l', 'r', 'r', 'r', 'r'],
  );
  const m = describeMachine();
  const body = [
    '## Cluster: 3 racks in one datacenter vs direct Redis (redis-benchmark)',
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, node ${m.nodeVersion}. Date: ${startedAt.toISOString()}. Results: \`${path.relative(repoRoot, file)}\`.`,
    '',
    `Four dynoproxy nodes (1 data worker each) on loopback, each beside its own redis-server: rack1 with two nodes, rack2 and rack3 with one. `,
    `The client talks to rack1's first node. Writes reach the owner in all three racks; at DC_ONE the local owner answers, at DC_QUORUM two of three racks must. `,
    `"owned" / "forwarded": one key whose owner in rack1 is the entry node itself, or its sibling (one extra hop over the peer port). `,
    `${CLIENTS} clients, ${REQUESTS.toLocaleString('en-US')} requests per run, ${ROUNDS} interleaved rounds, medians. Every process shares the same 2 cores, so these compare setups; they are not capacity.`,
    '',
    table,
    '',
    'Rerun: `npm run bench:cluster` (`--rounds N --requests N --clients N`).',
  ].join('\n');
  const docPath = path.join(repoRoot, 'BENCHMARKS.md');
  writeFileSync(docPath, replaceGeneratedSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : undefined, 'cluster-benchmark', body));
  process.stdout.write(`${body}\n`);
}

main()
  .catch((err: Error) => {
    process.stderr.write(`bench/cluster: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
