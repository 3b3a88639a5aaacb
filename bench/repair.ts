// Anti-entropy benchmark (issue 11 part 5): a 3-rack cluster on loopback with N small keys on every rack, a share of them made to
// differ on two racks' redis-servers; POST /repair on rack1. Reports the run's time, keys compared per second and the bytes it exchanged
// against a full copy of the range (what DYNOPROXY.RANGE would send for every key). Never runs unbounded; every process is stopped.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ProcessGroup, type ManagedProcess } from './lib/process-group.ts';
import { freePorts } from './lib/free-port.ts';
import { waitForPort } from './lib/wait-for-port.ts';
import { repoRoot } from './lib/server-launchers.ts';

const { values: opt } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    differ: { type: 'string', default: '0.01' },
    batch: { type: 'string', default: '' },
    pause: { type: 'string', default: '' },
    deadline: { type: 'string', default: '600' },
  },
});
const KEYS = Number(opt.keys);
const DIFFER = Math.round(KEYS * Number(opt.differ));
const DEADLINE_MS = Number(opt.deadline) * 1000;
const HOST = '127.0.0.1';

interface Node {
  rack: string;
  client: number;
  peer: number;
  admin: number;
  redis: number;
}

const group = new ProcessGroup();
const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-bench-repair-'));

type RepairInfo = {
  phase: string; running: boolean; runs: number; keysCompared: number; keysDiffering: number; keysRepaired: number; conflicts: number;
  keysSkipped: number; bytes: number; bucketsCompared: number; bucketsDiffering: number; startedAt: number; finishedAt: number; lastError: string;
};

async function status(n: Node): Promise<RepairInfo> {
  return (await (await fetch(`http://${HOST}:${n.admin}/repair`)).json()) as RepairInfo;
}

async function run(n: Node): Promise<RepairInfo> {
  const runs = (await status(n)).runs;
  const r = await fetch(`http://${HOST}:${n.admin}/repair`, { method: 'POST' });
  if (r.status !== 200) throw new Error(`POST /repair: ${r.status} ${await r.text()}`);
  const t0 = Date.now();
  while (Date.now() - t0 < DEADLINE_MS) {
    const s = await status(n);
    if (s.runs === runs + 1 && !s.running) return s;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the repair did not end within the deadline');
}

async function main(): Promise<void> {
  const racks = ['rack1', 'rack2', 'rack3'];
  const ports = await freePorts(racks.length * 4);
  const nodes: Node[] = racks.map((rack, i) => ({ rack, client: ports[4 * i], peer: ports[4 * i + 1], admin: ports[4 * i + 2], redis: ports[4 * i + 3] }));
  const redis = nodes.map((n) => {
    const p = group.start({
      name: `redis-${n.redis}`, command: 'redis-server',
      args: ['--port', String(n.redis), '--bind', HOST, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'],
      logPath: path.join(dir, `redis-${n.redis}.log`),
    });
    return { n, p };
  });
  for (const { n, p } of redis) await waitForPort(HOST, n.redis, { process: p });
  const conns = nodes.map((n) => new Redis({ host: HOST, port: n.redis }));
  // The same keys and values on every rack (DEBUG POPULATE is deterministic: key:i -> value:i padded to 16 bytes).
  for (const c of conns) await c.call('DEBUG', 'POPULATE', String(KEYS), 'key', '16');
  // A full copy of the range: what DYNOPROXY.RANGE would send per key (key, DUMP payload, 40 bytes of framing: entryBytes).
  let fullCopy = 0;
  for (let i = 0; i < KEYS; i += 5000) {
    const p = conns[0].pipeline();
    for (let j = i; j < Math.min(KEYS, i + 5000); j++) p.dumpBuffer(`key:${j}`);
    const res = (await p.exec()) ?? [];
    res.forEach(([, d], x) => (fullCopy += `key:${i + x}`.length + (d as Buffer).length + 40));
  }
  // The differences: half deleted on rack3, half rewritten on rack2, spread over the key space.
  const step = Math.floor(KEYS / Math.max(1, DIFFER));
  for (let d = 0; d < DIFFER; d++) {
    const k = `key:${d * step}`;
    if (d % 2 === 0) await conns[2].del(k);
    else await conns[1].set(k, `changed-${d}`);
  }
  const node = path.join(repoRoot, 'node_modules', '.bin', 'node');
  const extra = [...(opt.batch ? [`  warm_up_batch: ${opt.batch}`] : []), ...(opt.pause ? [`  warm_up_pause: ${opt.pause}`] : [])];
  const procs: ManagedProcess[] = [];
  for (const n of nodes) {
    const seeds = nodes.filter((o) => o !== n).map((o) => `  - ${HOST}:${o.peer}:${o.rack}:dc1:101134286`);
    const file = path.join(dir, `node-${n.client}.yml`);
    writeFileSync(file, ['bench_repair:', '  datacenter: dc1', `  rack: ${n.rack}`, `  listen: ${HOST}:${n.client}`, `  dyn_listen: ${HOST}:${n.peer}`, '  dyn_seeds:', ...seeds,
      "  tokens: '101134286'", '  servers:', `  - ${HOST}:${n.redis}:1`, '  timeout: 5000', '  preconnect: true', '  warm_up: false',
      `  stats_listen: ${HOST}:${n.admin}`, ...extra, ''].join('\n'));
    const p = group.start({ name: `dynoproxy-${n.client}`, command: node, args: [path.join(repoRoot, 'src', 'cli.ts'), '-c', file, '--workers', '1'], logPath: path.join(dir, `node-${n.client}.log`), env: { ...process.env, DYNOPROXY_LOG_LEVEL: 'warn' } });
    procs.push(p);
    await waitForPort(HOST, n.client, { process: p, deadlineMs: 30_000 });
  }
  await new Promise((r) => setTimeout(r, 3000));
  const first = await run(nodes[0]);
  const sizes = await Promise.all(conns.map((c) => c.dbsize()));
  let wrong = 0;
  for (let d = 0; d < DIFFER; d++) {
    const k = `key:${d * step}`;
    const vals = await Promise.all(conns.map((c) => c.get(k)));
    if (vals.some((v) => v !== vals[0]) || vals[0] === null || vals[0].startsWith('changed-')) wrong++;
  }
  // A second run over racks that agree: the cost of a repair with nothing to do.
  const second = await run(nodes[0]);
  for (const c of conns) c.disconnect();
  const secs = (s: RepairInfo): number => (s.finishedAt - s.startedAt) / 1000;
  const result = {
    keys: KEYS, differing: DIFFER, fullCopyBytes: fullCopy,
    first: { ...first, seconds: secs(first), keysPerSecond: Math.round(first.keysCompared / secs(first)), bytesVsFullCopy: first.bytes / fullCopy },
    second: { ...second, seconds: secs(second), keysPerSecond: Math.round(second.keysCompared / secs(second)), bytesVsFullCopy: second.bytes / fullCopy },
    dbsizeAfter: sizes, differingKeysStillWrong: wrong,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => group.stopAll());
