// Warm-up benchmark (issue 11 part 4): a 3-rack cluster on loopback with N small keys on every rack; rack2's redis restarts empty and
// warms up by itself. Reports the copy's time and keys/s, and a paced client's p99 on the source node before and during the copy.
// Never runs unbounded: the copy and every load phase have deadlines, and every process started is stopped at the end.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import * as hdr from 'hdr-histogram-js';
import { ProcessGroup, type ManagedProcess } from './lib/process-group.ts';
import { freePorts } from './lib/free-port.ts';
import { waitForPort } from './lib/wait-for-port.ts';
import { repoRoot } from './lib/server-launchers.ts';

const { values: opt } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '' },
    pause: { type: 'string', default: '' },
    rate: { type: 'string', default: '4000' },
    baseline: { type: 'string', default: '10' },
    deadline: { type: 'string', default: '600' },
  },
});
const KEYS = Number(opt.keys);
const RATE = Number(opt.rate);
const BASELINE_S = Number(opt.baseline);
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
const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-bench-warm-up-'));

const redisByPort = new Map<number, ManagedProcess>();

function startRedis(port: number): ManagedProcess {
  const p = group.start({
    name: `redis-${port}`, command: 'redis-server',
    args: ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'],
    logPath: path.join(dir, `redis-${port}.log`),
  });
  redisByPort.set(port, p);
  return p;
}

type WarmUpInfo = { phase: string; runs: number; keys_copied: number; bytes_copied: number; keys_skipped: number; sources: string; started_at: number; finished_at: number };

async function warmUp(n: Node): Promise<WarmUpInfo> {
  return ((await (await fetch(`http://${HOST}:${n.admin}/info`)).json()) as { warm_up: WarmUpInfo }).warm_up;
}

/** Start a node's latency histogram afresh (the proxy's own view of a phase: from request read to reply written). */
async function resetLatency(n: Node): Promise<void> {
  await fetch(`http://${HOST}:${n.admin}/historeset`, { method: 'POST' });
}

/** The node's p99 request latency since the last reset, ms. */
async function serverP99(n: Node): Promise<number> {
  return ((await (await fetch(`http://${HOST}:${n.admin}/info`)).json()) as { latency_99th: number }).latency_99th / 1000;
}

/** GETs of random existing keys at `RATE` per second on one node until `stop()` says so; per-request latency in µs. */
async function pacedLoad(port: number, stop: () => boolean, maxMs: number): Promise<{ p50: number; p99: number; p999: number; count: number; errors: number; nils: number }> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const conns = Array.from({ length: 4 }, () => new Redis({ host: HOST, port, maxRetriesPerRequest: 0, enableAutoPipelining: false }));
  let errors = 0;
  let nils = 0;
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      if (stop() || elapsed > maxMs) {
        clearInterval(tick);
        resolve();
        return;
      }
      // Catch up to the schedule: requests are sent open-loop, whatever the replies' pace.
      const due = Math.floor((elapsed / 1000) * RATE);
      for (; sent < due; sent++) {
        const t0 = performance.now();
        conns[sent % conns.length]
          .get(`key:${Math.floor(Math.random() * KEYS)}`)
          .then((v) => {
            if (v === null) nils++;
            h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          })
          .catch(() => errors++);
      }
    }, 1);
  });
  await new Promise((r) => setTimeout(r, 500));
  for (const c of conns) c.disconnect();
  const out = { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), count: h.totalCount, errors, nils };
  h.destroy();
  return out;
}

async function main(): Promise<void> {
  const racks = ['rack1', 'rack2', 'rack3'];
  const ports = await freePorts(racks.length * 4);
  const nodes: Node[] = racks.map((rack, i) => ({ rack, client: ports[4 * i], peer: ports[4 * i + 1], admin: ports[4 * i + 2], redis: ports[4 * i + 3] }));
  for (const n of nodes) await waitForPort(HOST, n.redis, { process: startRedis(n.redis) });
  // Small keys on every rack: DEBUG POPULATE writes key:0 .. key:N-1 (values of 16 bytes) in the datastore directly.
  for (const n of nodes) {
    const r = new Redis({ host: HOST, port: n.redis });
    await r.call('DEBUG', 'POPULATE', String(KEYS), 'key', '16');
    r.disconnect();
  }
  const node = path.join(repoRoot, 'node_modules', '.bin', 'node');
  const extra = [...(opt.batch ? [`  warm_up_batch: ${opt.batch}`] : []), ...(opt.pause ? [`  warm_up_pause: ${opt.pause}`] : [])];
  const procs: ManagedProcess[] = [];
  for (const n of nodes) {
    const seeds = nodes.filter((o) => o !== n).map((o) => `  - ${HOST}:${o.peer}:${o.rack}:dc1:101134286`);
    const file = path.join(dir, `node-${n.client}.yml`);
    writeFileSync(file, ['bench_warm_up:', '  datacenter: dc1', `  rack: ${n.rack}`, `  listen: ${HOST}:${n.client}`, `  dyn_listen: ${HOST}:${n.peer}`, '  dyn_seeds:', ...seeds,
      "  tokens: '101134286'", '  servers:', `  - ${HOST}:${n.redis}:1`, '  timeout: 5000', '  preconnect: true', `  stats_listen: ${HOST}:${n.admin}`, ...extra, ''].join('\n'));
    const p = group.start({ name: `dynoproxy-${n.client}`, command: node, args: [path.join(repoRoot, 'src', 'cli.ts'), '-c', file, '--workers', '1'], logPath: path.join(dir, `node-${n.client}.log`), env: { ...process.env, DYNOPROXY_LOG_LEVEL: 'warn' } });
    procs.push(p);
    await waitForPort(HOST, n.client, { process: p, deadlineMs: 30_000 });
  }
  await new Promise((r) => setTimeout(r, 3000));
  const [source1, target, source3] = nodes;
  // Baseline: the same paced load on both serving racks' nodes (the copy's source is one of them).
  const serving = [source1, source3];
  for (const n of serving) await resetLatency(n);
  const before = await Promise.all(serving.map((n) => pacedLoad(n.client, () => false, BASELINE_S * 1000)));
  const serverBefore = await Promise.all(serving.map(serverP99));
  process.stderr.write(`before: ${JSON.stringify(before)}\n`);
  // rack2's redis restarts empty; the node warms up by itself.
  await redisByPort.get(target.redis)?.stop();
  await waitForPort(HOST, target.redis, { process: startRedis(target.redis) });
  const t0 = Date.now();
  let started: WarmUpInfo | null = null;
  while (Date.now() - t0 < 30_000) {
    const w = await warmUp(target);
    if (w.runs > 0) {
      started = w;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (started === null) throw new Error('no warm-up started within 30 s');
  for (const n of serving) await resetLatency(n);
  let done = false;
  const poll = (async () => {
    while (!done && Date.now() - t0 < DEADLINE_MS) {
      const w = await warmUp(target);
      if (w.phase === 'idle' || w.phase === 'failed') done = true;
      else await new Promise((r) => setTimeout(r, 100));
    }
    done = true;
  })();
  const during = await Promise.all([source1, source3].map((n) => pacedLoad(n.client, () => done, DEADLINE_MS)));
  await poll;
  const serverDuring = await Promise.all(serving.map(serverP99));
  for (const n of serving) await resetLatency(n);
  // And after, the same load again: the machine's own noise brackets the copy's effect.
  const after = await Promise.all([source1, source3].map((n) => pacedLoad(n.client, () => false, BASELINE_S * 1000)));
  const serverAfter = await Promise.all(serving.map(serverP99));
  const w = await warmUp(target);
  const seconds = (w.finished_at - w.started_at) / 1000;
  const r2 = new Redis({ host: HOST, port: target.redis });
  const size = await r2.dbsize();
  r2.disconnect();
  const sourceIndex = w.sources.includes(String(source1.peer)) ? 0 : 1;
  const result = {
    keys: KEYS, phase: w.phase, copied: w.keys_copied, skipped: w.keys_skipped, bytes: w.bytes_copied, dbsizeAfter: size, seconds,
    keysPerSecond: Math.round(w.keys_copied / seconds), source: w.sources, rate: RATE,
    p99BeforeMs: before.map((b) => b.p99 / 1000), p99DuringMs: during.map((d) => d.p99 / 1000), sourceIndex,
    p99AfterMs: after.map((a) => a.p99 / 1000), serverP99BeforeMs: serverBefore, serverP99DuringMs: serverDuring, serverP99AfterMs: serverAfter,
    p50BeforeMs: before.map((b) => b.p50 / 1000), p50DuringMs: during.map((d) => d.p50 / 1000), p50AfterMs: after.map((a) => a.p50 / 1000),
    requestsDuring: during.map((d) => d.count), errorsDuring: during.map((d) => d.errors), nilsDuring: during.map((d) => d.nils),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => group.stopAll());
