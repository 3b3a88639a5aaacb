// Demo cluster on loopback: 2 datacenters (3 racks in dc1, 1 in dc2), one dynoproxy node per rack, each beside its own redis-server.
// Never touches servers it did not start: it refuses ports already in use, and stops everything it started on Ctrl-C or SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const base = Number(process.env.DEMO_BASE_PORT ?? 8100);
if (!Number.isInteger(base) || base < 1024 || base > 65535 - 40) {
  process.stderr.write(`demo: DEMO_BASE_PORT must be a whole number from 1024 to ${65535 - 40} (got ${process.env.DEMO_BASE_PORT})\n`);
  process.exit(2);
}
const workers = process.env.DEMO_WORKERS ?? '1';
if (!/^([1-9][0-9]?|auto)$/.test(workers)) {
  process.stderr.write(`demo: DEMO_WORKERS must be auto or 1..99 (got ${workers})\n`);
  process.exit(2);
}
const TOKEN = '101134286';

interface DemoNode {
  name: string;
  dc: string;
  rack: string;
  client: number;
  peer: number;
  redis: number;
  admin: number;
}

const layout: [string, string][] = [
  ['dc1', 'rack1'],
  ['dc1', 'rack2'],
  ['dc1', 'rack3'],
  ['dc2', 'rack1'],
];
const nodes: DemoNode[] = layout.map(([dc, rack], i) => ({
  name: `${dc}-${rack}`,
  dc,
  rack,
  client: base + 10 * i + 2,
  peer: base + 10 * i + 1,
  redis: base + 10 * i + 3,
  admin: base + 10 * i + 4,
}));

function config(n: DemoNode): string {
  const seeds = nodes.filter((o) => o !== n).map((o) => `  - 127.0.0.1:${o.peer}:${o.rack}:${o.dc}:${TOKEN}`);
  return [
    'dyn_o_mite:',
    `  datacenter: ${n.dc}`,
    `  rack: ${n.rack}`,
    `  listen: 127.0.0.1:${n.client}`,
    `  dyn_listen: 127.0.0.1:${n.peer}`,
    '  dyn_seeds:',
    ...seeds,
    `  tokens: '${TOKEN}'`,
    '  data_store: 0',
    '  servers:',
    `  - 127.0.0.1:${n.redis}:1`,
    '  read_consistency: DC_ONE',
    '  write_consistency: DC_ONE',
    '  timeout: 5000',
    '  preconnect: true',
    `  stats_listen: 127.0.0.1:${n.admin}`,
    '',
  ].join('\n');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitPort(port: number, what: string, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start listening on ${port} within ${deadlineMs} ms`);
}

const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-demo-'));
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}

async function main(): Promise<void> {
  for (const n of nodes) {
    for (const p of [n.client, n.peer, n.redis, n.admin]) {
      if (!(await portFree(p))) throw new Error(`port ${p} is in use; set DEMO_BASE_PORT to move the demo's ports`);
    }
  }
  for (const n of nodes) {
    const r = spawn('redis-server', ['--port', String(n.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    children.push(r);
  }
  await Promise.all(nodes.map((n) => waitPort(n.redis, `redis-server for ${n.name}`)));
  const node = path.join(root, 'node_modules', '.bin', 'node');
  for (const n of nodes) {
    const file = path.join(dir, `${n.name}.yml`);
    writeFileSync(file, config(n));
    const p = spawn(node, [path.join(root, 'src', 'cli.ts'), '-c', file, '--workers', workers], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DYNOPROXY_LOG_LEVEL: process.env.DYNOPROXY_LOG_LEVEL ?? 'warn' },
    });
    p.on('exit', (code) => {
      if (!stopping) {
        process.stderr.write(`dynoproxy ${n.name} exited (${code}); stopping the demo\n`);
        void stopAll(1);
      }
    });
    children.push(p);
  }
  await Promise.all(nodes.map((n) => waitPort(n.client, `dynoproxy ${n.name}`)));
  const lines = nodes.map(
    (n) => `  ${n.name.padEnd(10)} redis-cli -p ${n.client}    (peer port ${n.peer}, its redis-server ${n.redis}, admin http://127.0.0.1:${n.admin}/)`,
  );
  process.stdout.write(
    [
      '',
      'dynoproxy demo cluster is up: datacenter dc1 with racks rack1..rack3, datacenter dc2 with rack1.',
      'Every rack holds the whole dataset; a write through any node reaches every rack of both datacenters.',
      ...lines,
      '',
      `Try: redis-cli -p ${nodes[0].client} set hello world; redis-cli -p ${nodes[3].client} get hello`,
      `     redis-cli -p ${nodes[1].redis} get hello        # the replica in rack2, read directly`,
      `     redis-cli -p ${nodes[0].client} DYNO_CONFIG:CONN_CONSISTENCY DC_QUORUM`,
      `     curl http://127.0.0.1:${nodes[0].admin}/cluster_describe`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
main().catch((err: Error) => {
  process.stderr.write(`demo: ${err.message}\n`);
  void stopAll(1);
});
