// Split multi-key reads of large values through the proxy (issue 13 part 5): memcached `get` of N x 1 MiB keys over 2 memcached,
// RESP MGET over 2 redis; the proxy's peak RSS (VmHWM), time and whether the reply came whole, for a client reading at full speed,
// and the RSS growth of a client that never reads. Loopback only; every loop bounded. Never asserts speed: it prints JSON.
//   node bench/split-stream.ts [--root <checkout>] [--proto mc|resp] [--keys 300] [--value-kib 1024] [--idle-seconds 5]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from './lib/free-port.ts';

const { values: opt } = parseArgs({
  options: {
    root: { type: 'string', default: path.resolve(import.meta.dirname, '..') },
    proto: { type: 'string', default: 'mc' },
    keys: { type: 'string', default: '300' },
    'value-kib': { type: 'string', default: '1024' },
    'idle-seconds': { type: 'string', default: '5' },
    timeout: { type: 'string', default: '5000' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  process.stdout.write('node bench/split-stream.ts [--root <checkout>] [--proto mc|resp] [--keys 300] [--value-kib 1024] [--idle-seconds 5] [--timeout 5000]\n');
  process.exit(0);
}
const ROOT = opt.root;
const MC = opt.proto === 'mc';
const N = Number(opt.keys);
const VALUE = Number(opt['value-kib']) * 1024;
const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'split-stream-'));

function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);

async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} never accepted`);
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m === null ? 0 : Number(m[1]);
}

const [p0, p1, proxyPort, statsPort] = await freePorts(4);
for (const port of [p0, p1]) {
  const c = MC
    ? spawn('memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0', '-I', '2m', '-m', '2048'], { stdio: 'ignore' })
    : spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' });
  children.push(c);
}
await Promise.all([waitPort(p0, 10_000), waitPort(p1, 10_000)]);
const cfg = path.join(dir, 'p.yml');
writeFileSync(cfg, [
  'bench:',
  `  listen: 127.0.0.1:${proxyPort}`,
  `  stats_listen: 127.0.0.1:${statsPort}`,
  `  data_store: ${MC ? 1 : 0}`,
  '  hash: murmur',
  '  distribution: ketama',
  `  timeout: ${opt.timeout}`,
  '  preconnect: true',
  '  max_request_bytes: 4194304',
  '  servers:',
  `    - 127.0.0.1:${p0}:1`,
  `    - 127.0.0.1:${p1}:1`,
  '',
].join('\n'));
const node = path.join(ROOT, 'node_modules/.bin/node');
const proxy = spawn(node, [path.join(ROOT, 'src/cli.ts'), '-c', cfg, '--workers', '1'], { cwd: ROOT, stdio: ['ignore', 'ignore', process.env['SPLIT_STREAM_STDERR'] === '1' ? 'inherit' : 'ignore'], env: { ...process.env, DYNOPROXY_STREAM_DEBUG: '1' } });
children.push(proxy);
await waitPort(proxyPort, 20_000);
await sleep(300);
const pid = proxy.pid as number;

/** Direct load of every key into its owner isn't known here: load through the proxy, one key at a time (bounded). */
async function load(): Promise<void> {
  const s = net.connect(proxyPort, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const val = Buffer.alloc(VALUE, 0x61);
  let got = 0;
  let want = 0;
  let acc = '';
  s.on('data', (d) => {
    acc += d.toString('latin1');
    const lines = acc.split('\r\n');
    acc = lines.pop() as string;
    got += lines.filter((l) => l.length > 0).length;
  });
  for (let i = 0; i < N; i++) {
    const k = `sk:${i}`;
    if (MC) s.write(Buffer.concat([Buffer.from(`set ${k} 0 0 ${VALUE}\r\n`), val, Buffer.from('\r\n')]));
    else s.write(Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${VALUE}\r\n`), val, Buffer.from('\r\n')]));
    want++;
    if (want - got > 16) while (want - got > 4) await sleep(2);
  }
  const deadline = Date.now() + 60_000;
  while (got < want && Date.now() < deadline) await sleep(5);
  s.destroy();
}

function request(): Buffer {
  const keys = Array.from({ length: N }, (_, i) => `sk:${i}`);
  if (MC) return Buffer.from(`get ${keys.join(' ')}\r\n`);
  return Buffer.from(`*${N + 1}\r\n$4\r\nMGET\r\n` + keys.map((k) => `$${k.length}\r\n${k}\r\n`).join(''));
}

/** A client reading at full speed: time to the complete reply, whether it is the whole expected reply, the proxy's peak RSS. */
async function fastRead(): Promise<{ ms: number; ok: boolean; bytes: number; head: string }> {
  const expectBytes = MC
    ? Array.from({ length: N }, (_, i) => `VALUE sk:${i} 0 ${VALUE}\r\n`.length + VALUE + 2).reduce((a, b) => a + b, 0) + 5
    : `*${N}\r\n`.length + N * (`$${VALUE}\r\n`.length + VALUE + 2);
  const s = net.connect(proxyPort, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const t0 = performance.now();
  let bytes = 0;
  let head = '';
  let tail = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      if (head.length < 60) head += d.subarray(0, 60).toString('latin1');
      bytes += d.length;
      tail = Buffer.concat([tail, d]).subarray(-16);
      if (bytes >= expectBytes || /^(SERVER_ERROR|-ERR|CLIENT_ERROR|ERROR)/.test(head)) resolve();
    });
    s.on('close', () => resolve());
    setTimeout(resolve, 120_000).unref();
  });
  s.write(request());
  await done;
  const ms = performance.now() - t0;
  s.destroy();
  const ok = bytes === expectBytes && (MC ? tail.toString('latin1').endsWith('END\r\n') : true);
  return { ms: Math.round(ms), ok, bytes, head: head.slice(0, 50).replace(/\r\n/g, '\\r\\n') };
}

/** A client that sends the request and never reads: RSS growth over idle-seconds, and whether the proxy closed it. */
async function neverRead(): Promise<{ rssBeforeMiB: number; rssAfterMiB: number; rssPeakMiB: number; closed: boolean }> {
  const before = rssKiB(pid, 'VmRSS');
  const s = net.connect({ port: proxyPort, host: '127.0.0.1' });
  await new Promise((r) => s.once('connect', r));
  s.pause();
  let closed = false;
  s.on('close', () => (closed = true));
  s.on('error', () => (closed = true));
  for (let i = 0; i < 4; i++) s.write(request());
  let peak = before;
  const end = Date.now() + Number(opt['idle-seconds']) * 1000;
  while (Date.now() < end) {
    peak = Math.max(peak, rssKiB(pid, 'VmRSS'));
    await sleep(100);
  }
  const after = rssKiB(pid, 'VmRSS');
  s.destroy();
  return { rssBeforeMiB: Math.round(before / 1024), rssAfterMiB: Math.round(after / 1024), rssPeakMiB: Math.round(peak / 1024), closed };
}

await load();
const rssLoaded = rssKiB(pid, 'VmRSS');
// The load's own peak is not the read's: VmHWM is reset by writing 5 to clear_refs.
try {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
} catch {
  /* older kernels: the peak then includes the load */
}
const fast = await fastRead();
const peak = rssKiB(pid, 'VmHWM');
await sleep(1500);
const rssAfterFast = rssKiB(pid, 'VmRSS');
const idle = await neverRead();
const result = {
  root: ROOT,
  proto: MC ? 'memcached get' : 'resp mget',
  keys: N,
  valueBytes: VALUE,
  load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  rssAfterLoadMiB: Math.round(rssLoaded / 1024),
  fast: { ...fast, rssPeakMiB: Math.round(peak / 1024), rssAfterMiB: Math.round(rssAfterFast / 1024) },
  neverReading: idle,
};
process.stdout.write(JSON.stringify(result) + '\n');
cleanup();
process.exit(0);
