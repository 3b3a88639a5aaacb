// The common split path measured side by side: a small MGET of 4 keys (16-byte values) over 2 redis-servers, through two proxies run
// from two checkouts (e.g. main vs a branch), with redis-benchmark, alternating rounds; prints medians as JSON. Loopback only.
//   node bench/split-small.ts --a /work/main --b . [--rounds 5] [--requests 100000] [--pipelines 1,16] [--clients 50] [--keys 4]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from './lib/free-port.ts';

const { values: opt } = parseArgs({
  options: {
    a: { type: 'string', default: '/work/main' },
    b: { type: 'string', default: path.resolve(import.meta.dirname, '..') },
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '100000' },
    pipelines: { type: 'string', default: '1,16' },
    clients: { type: 'string', default: '50' },
    keys: { type: 'string', default: '4' },
  },
});
const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'split-small-'));
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} never accepted`);
}

const [r0, r1, pa, pb, sa, sb] = await freePorts(6);
for (const port of [r0, r1]) children.push(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
await Promise.all([waitPort(r0), waitPort(r1)]);

/** utime + stime of a process, in clock ticks (100 per second here). */
function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

const pids: Record<number, number> = {};
async function proxy(root: string, port: number, stats: number): Promise<void> {
  const cfg = path.join(dir, `${port}.yml`);
  writeFileSync(cfg, `b:\n  listen: 127.0.0.1:${port}\n  stats_listen: 127.0.0.1:${stats}\n  data_store: 0\n  hash: murmur\n  distribution: ketama\n  timeout: 5000\n  preconnect: true\n  servers:\n    - 127.0.0.1:${r0}:1\n    - 127.0.0.1:${r1}:1\n`);
  const c = spawn(path.join(root, 'node_modules/.bin/node'), [path.join(root, 'src/cli.ts'), '-c', cfg, '--workers', '1'], { cwd: root, stdio: 'ignore' });
  children.push(c);
  pids[port] = c.pid as number;
  await waitPort(port);
}
await proxy(opt.a, pa, sa);
await proxy(opt.b, pb, sb);
await sleep(500);

const nKeys = Number(opt.keys);
const prefixes = Array.from({ length: nKeys }, (_, i) => String.fromCharCode(97 + i));
// Values for every key the MGETs can ask (16 bytes each), through the proxy.
for (const p of prefixes) execFileSync('redis-benchmark', ['-p', String(pa), '-n', '20000', '-r', '10000', '-c', '20', '-q', 'SET', `${p}:__rand_int__`, 'vvvvvvvvvvvvvvvv'], { stdio: 'ignore' });

/** One redis-benchmark run: requests per second and the proxy's CPU µs per request. */
function run(port: number, pipeline: number): [number, number] {
  const t0 = cpuTicks(pids[port]!);
  const out = execFileSync('redis-benchmark', [
    '-p', String(port), '-n', opt.requests, '-c', opt.clients, '-P', String(pipeline), '-r', '10000', '--csv',
    'MGET', ...prefixes.map((p) => `${p}:__rand_int__`),
  ], { encoding: 'latin1' });
  const line = out.trim().split('\n').pop() as string;
  const cpuUs = ((cpuTicks(pids[port]!) - t0) * 10_000) / Number(opt.requests);
  return [Number(line.split(',')[1]?.replace(/"/g, '')), cpuUs];
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
const results: Record<string, unknown>[] = [];
for (const pl of opt.pipelines.split(',').map(Number)) {
  const a: [number, number][] = [];
  const b: [number, number][] = [];
  for (let r = 0; r < Number(opt.rounds); r++) {
    // Alternate which goes first, so a drift in the machine's load is shared.
    if (r % 2 === 0) {
      a.push(run(pa, pl));
      b.push(run(pb, pl));
    } else {
      b.push(run(pb, pl));
      a.push(run(pa, pl));
    }
  }
  const rps = (xs: [number, number][]): number[] => xs.map((x) => Math.round(x[0]));
  const cpu = (xs: [number, number][]): number[] => xs.map((x) => +x[1].toFixed(2));
  results.push({
    pipeline: pl, a: opt.a, b: opt.b, aRps: rps(a), bRps: rps(b), aMedian: median(rps(a)), bMedian: median(rps(b)), ratio: +(median(rps(b)) / median(rps(a))).toFixed(3),
    aCpuUs: cpu(a), bCpuUs: cpu(b), aCpuMedian: median(cpu(a)), bCpuMedian: median(cpu(b)), cpuRatio: +(median(cpu(b)) / median(cpu(a))).toFixed(3),
  });
}
process.stdout.write(JSON.stringify({ bench: 'split-small', keys: nKeys, load: os.loadavg().map((x) => x.toFixed(2)).join(' '), results }) + '\n');
process.exit(0);
