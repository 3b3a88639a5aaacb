// Client benchmark: DynoClient (token-aware) vs ioredis to one coordinator node vs ioredis direct to one redis, GET/SET 64 B,
// 50 concurrent callers, on a 2-rack cluster (rack1: 2 nodes, rack2: 1); then failover with the local owner killed.
// Never runs unbounded: every load is bounded in count and time, and every process started is stopped at the end.
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { DynoClient } from '../src/client/index.ts';
import { ProcessGroup, type ManagedProcess } from './lib/process-group.ts';
import { freePorts } from './lib/free-port.ts';
import { waitForPort } from './lib/wait-for-port.ts';
import { median } from './lib/median.ts';
import { repoRoot } from './lib/server-launchers.ts';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    ops: { type: 'string', default: '40000' },
    callers: { type: 'string', default: '50' },
    'max-seconds': { type: 'string', default: '30' },
    // Comma list of dyno, coordinator, direct, coordinator-ap, direct-ap (the -ap ones with ioredis enableAutoPipelining).
    targets: { type: 'string', default: 'dyno,coordinator,direct,coordinator-ap,direct-ap' },
    'failover-rounds': { type: 'string' },
    // Open loop: comma list of offered rates (ops/s); each target gets each rate for --rate-seconds per round. Empty: skipped.
    rates: { type: 'string', default: '' },
    'rate-seconds': { type: 'string', default: '3' },
    // Skip the closed-loop (throughput) rounds, e.g. for an open-loop-only run.
    'no-closed': { type: 'boolean', default: false },
    // Directory for node --cpu-prof profiles of the dynoproxy nodes (written at their clean stop). Empty: not profiled.
    'node-prof': { type: 'string', default: '' },
  },
});
const ROUNDS = Number(opt.rounds);
const OPS = Number(opt.ops);
const CALLERS = Number(opt.callers);
const MAX_MS = Number(opt['max-seconds']) * 1000;
const TARGETS = new Set(opt.targets.split(','));
const FAILOVER_ROUNDS = Number(opt['failover-rounds'] ?? opt.rounds);
const RATES = opt.rates === '' ? [] : opt.rates.split(',').map(Number);
const RATE_MS = Number(opt['rate-seconds']) * 1000;
const CLOSED = !opt['no-closed'];
const HOST = '127.0.0.1';
const KEYS = 10_000;
const VALUE = 'x'.repeat(64);

interface Node { label: string; rack: string; token: string; client: number; peer: number; admin: number; redis: number; proc?: ManagedProcess }

const group = new ProcessGroup();
const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-bench-client-'));

type Op = (key: string, write: boolean) => Promise<unknown>;

/** Every redis-server and dynoproxy started, for their CPU time, with a label (its role) for the per-process split. */
const servers: { label: string; proc: ManagedProcess }[] = [];

/** CPU time (user + system, ms) of one process so far, from /proc (10 ms ticks); 0 when it exited or /proc is absent. */
function procCpuMs(p: ManagedProcess): number {
  try {
    const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return 0; // exited: its time is gone with it
  }
}

/** CPU time (ms) the server processes have used so far. */
function serverCpuMs(): number {
  return servers.reduce((a, s) => a + procCpuMs(s.proc), 0);
}

/** CPU time (ms) per server label so far. */
function serverCpuByLabel(): Map<string, number> {
  return new Map(servers.map((s) => [s.label, procCpuMs(s.proc)]));
}

/** Read and write system calls (read/readv, write/writev; all threads) of a process so far, from /proc/<pid>/io; 0 when absent. */
function procSyscalls(pid: number | 'self'): { r: number; w: number } {
  try {
    const f = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { r: Number(/syscr: (\d+)/.exec(f)?.[1] ?? 0), w: Number(/syscw: (\d+)/.exec(f)?.[1] ?? 0) };
  } catch {
    return { r: 0, w: 0 };
  }
}

/** Read/write system calls per label (the bench process as 'client') so far. */
function syscallsByLabel(): Map<string, { r: number; w: number }> {
  return new Map([['client', procSyscalls('self')] as const, ...servers.map((s) => [s.label, procSyscalls(s.proc.pid)] as const)]);
}

/** CALLERS loops sharing OPS operations (half GET, half SET on KEYS keys), stopped at MAX_MS; latency per op in µs. */
interface LoadResult { opsPerSec: number; p50: number; p99: number; failed: number; done: number; clientCpuUs: number; serverCpuUs: number; byServerUs: Map<string, number>; syscallsPerOp: Map<string, { r: number; w: number }> }

async function load(op: Op, onResult?: (ok: boolean, at: number) => void): Promise<LoadResult> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  let next = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const srv0 = serverCpuMs();
  const by0 = serverCpuByLabel();
  const sys0 = syscallsByLabel();
  const t0 = performance.now();
  const caller = async (): Promise<void> => {
    while (next < OPS && performance.now() - t0 < MAX_MS) {
      const i = next++;
      const key = `bench:${(i * 7919) % KEYS}`;
      const s = performance.now();
      let ok = true;
      try {
        await op(key, (i & 1) === 1);
      } catch {
        ok = false;
        failed++;
      }
      const e = performance.now();
      h.recordValue(Math.max(1, Math.round((e - s) * 1000)));
      onResult?.(ok, e);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const srvMs = serverCpuMs() - srv0;
  const byServerUs = new Map([...serverCpuByLabel()].map(([label, ms]) => [label, ((ms - (by0.get(label) ?? 0)) * 1000) / next]));
  const syscallsPerOp = new Map([...syscallsByLabel()].map(([label, c]) => [label, { r: (c.r - (sys0.get(label)?.r ?? 0)) / next, w: (c.w - (sys0.get(label)?.w ?? 0)) / next }]));
  return {
    opsPerSec: next / secs, p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, failed, done: next,
    clientCpuUs: (cpu.user + cpu.system) / next, serverCpuUs: (srvMs * 1000) / next, byServerUs, syscallsPerOp,
  };
}

/**
 * Open loop at a fixed offered rate: operation i is due at t0 + i / rate, whatever the earlier ones are doing (no caller
 * waits for a reply before the next is sent). A 1 ms timer sends every operation due by then; latency is measured from
 * the due time (so it includes the sender's timer lateness, the same for every target, and a target that falls behind
 * pays for its queue: no coordinated omission) and, separately, from the actual send. Bounded by RATE_MS of sending,
 * then at most MAX_MS for the replies; at most 20,000 in flight (past that, the run counts as saturated and stops sending).
 */
interface OpenResult { rate: number; sent: number; failed: number; saturated: boolean; p50: number; p90: number; p99: number; p999: number; sendP50: number; sendP99: number; clientCpuUs: number; serverCpuUs: number }

async function openLoad(op: Op, rate: number): Promise<OpenResult> {
  const build = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  const due = build();
  const service = build();
  const total = Math.floor((rate * RATE_MS) / 1000);
  let sent = 0;
  let done = 0;
  let failed = 0;
  let saturated = false;
  const cpu0 = process.cpuUsage();
  const srv0 = serverCpuMs();
  const t0 = performance.now();
  const record = (dueAt: number, sentAt: number, ok: boolean): void => {
    const e = performance.now();
    due.recordValue(Math.max(1, Math.round((e - dueAt) * 1000)));
    service.recordValue(Math.max(1, Math.round((e - sentAt) * 1000)));
    if (!ok) failed++;
    done++;
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const dueCount = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
      while (sent < dueCount) {
        if (sent - done >= 20_000) {
          saturated = true;
          break;
        }
        const i = sent++;
        const dueAt = t0 + (i * 1000) / rate;
        const key = `bench:${(i * 7919) % KEYS}`;
        op(key, (i & 1) === 1).then(() => record(dueAt, now, true), () => record(dueAt, now, false));
      }
      if (sent < total && !saturated && now - t0 < RATE_MS + 1000) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const deadline = performance.now() + MAX_MS;
  while (done < sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const cpu = process.cpuUsage(cpu0);
  const srvMs = serverCpuMs() - srv0;
  const ms = (h: ReturnType<typeof build>, p: number): number => h.getValueAtPercentile(p) / 1000;
  return {
    rate, sent, failed: failed + (sent - done), saturated: saturated || sent < total, p50: ms(due, 50), p90: ms(due, 90), p99: ms(due, 99), p999: ms(due, 99.9),
    sendP50: ms(service, 50), sendP99: ms(service, 99), clientCpuUs: (cpu.user + cpu.system) / Math.max(1, sent), serverCpuUs: (srvMs * 1000) / Math.max(1, sent),
  };
}

function startNode(n: Node, nodes: Node[]): ManagedProcess {
  const seeds = nodes.filter((o) => o !== n).map((o) => `  - ${HOST}:${o.peer}:${o.rack}:dc1:${o.token}`);
  const file = path.join(dir, `node-${n.client}.yml`);
  writeFileSync(file, ['bench_client:', '  datacenter: dc1', `  rack: ${n.rack}`, `  listen: ${HOST}:${n.client}`, `  dyn_listen: ${HOST}:${n.peer}`, '  dyn_seeds:', ...seeds,
    `  tokens: '${n.token}'`, '  hash: murmur', '  servers:', `  - ${HOST}:${n.redis}:1`, '  timeout: 5000', '  preconnect: true', '  gos_interval: 200', `  stats_listen: ${HOST}:${n.admin}`, ''].join('\n'));
  const node = path.join(repoRoot, 'node_modules', '.bin', 'node');
  const prof = opt['node-prof'] === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.join(path.resolve(opt['node-prof']), n.label)}`];
  const p = group.start({ name: `dynoproxy-${n.client}`, command: node, args: [...prof, path.join(repoRoot, 'src', 'cli.ts'), '-c', file, '--workers', '1'], logPath: path.join(dir, `node-${n.client}.log`), env: { ...process.env, DYNOPROXY_LOG_LEVEL: 'warn' } });
  servers.push({ label: `proxy ${n.label}`, proc: p });
  return p;
}

async function allNormal(n: Node): Promise<boolean> {
  try {
    const d = (await (await fetch(`http://${HOST}:${n.admin}/cluster_describe`)).json()) as { dcs: { racks: { servers: { state: string }[] }[] }[] };
    return d.dcs.every((dc) => dc.racks.every((r) => r.servers.every((s) => s.state === 'normal')));
  } catch {
    return false;
  }
}

async function waitNormal(nodes: Node[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await Promise.all(nodes.map(allNormal))).every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('cluster not normal within 30 s');
}

async function main(): Promise<void> {
  const layout: [string, string][] = [['rack1', '1073741824'], ['rack1', '3221225472'], ['rack2', '101134286']];
  const ports = await freePorts(layout.length * 4 + 1);
  const labels = ['rack1-a', 'rack1-b', 'rack2'];
  const nodes: Node[] = layout.map(([rack, token], i) => ({ label: labels[i], rack, token, client: ports[4 * i], peer: ports[4 * i + 1], admin: ports[4 * i + 2], redis: ports[4 * i + 3] }));
  const directPort = ports[ports.length - 1];
  for (const [label, port] of [['direct', directPort], ...nodes.map((n) => [n.label, n.redis] as const)] as const) {
    const p = group.start({ name: `redis-${port}`, command: 'redis-server', args: ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], logPath: path.join(dir, `redis-${port}.log`) });
    servers.push({ label: `redis ${label}`, proc: p });
    await waitForPort(HOST, port, { process: p });
  }
  for (const n of nodes) {
    n.proc = startNode(n, nodes);
    await waitForPort(HOST, n.client, { process: n.proc, deadlineMs: 30_000 });
  }
  await waitNormal(nodes);
  const seeds = nodes.map((n) => `http://${HOST}:${n.admin}`);
  const dyno = await DynoClient.connect({ seeds, dc: 'dc1', rack: 'rack1', pool: { maxConnections: Number(process.env.DYNO_BENCH_CONNS ?? 1), requestTimeoutMs: Number(process.env.DYNO_BENCH_TIMEOUT ?? 1000) } });
  // The baselines get ioredis' defaults, and the same again with auto-pipelining (which DynoClient turns on for its node
  // connections), so that neither side wins by an option the other lacks.
  const coordinator = new Redis({ host: HOST, port: nodes[0].client });
  const direct = new Redis({ host: HOST, port: directPort });
  const coordinatorAp = new Redis({ host: HOST, port: nodes[0].client, enableAutoPipelining: true });
  const directAp = new Redis({ host: HOST, port: directPort, enableAutoPipelining: true });
  const all: [string, string, Op][] = [
    ['dyno', 'DynoClient (token-aware)', (k, w) => (w ? dyno.set(k, VALUE) : dyno.get(k))],
    ['coordinator', 'ioredis -> coordinator node', (k, w) => (w ? coordinator.set(k, VALUE) : coordinator.get(k))],
    ['direct', 'ioredis -> redis direct', (k, w) => (w ? direct.set(k, VALUE) : direct.get(k))],
    ['coordinator-ap', 'ioredis (auto-pipelining) -> coordinator node', (k, w) => (w ? coordinatorAp.set(k, VALUE) : coordinatorAp.get(k))],
    ['direct-ap', 'ioredis (auto-pipelining) -> redis direct', (k, w) => (w ? directAp.set(k, VALUE) : directAp.get(k))],
  ];
  const targets: [string, Op][] = all.filter(([id]) => TARGETS.has(id)).map(([, name, op]) => [name, op]);
  // One untimed warm-up run of OPS each (JIT of the client and of the nodes, connections), then rounds in a rotating order so no target always runs first.
  for (const [, op] of targets) await load(op);
  const results = new Map<string, { ops: number[]; p50: number[]; p99: number[]; clientCpuUs: number[]; serverCpuUs: number[]; byServerUs: Map<string, number>[]; syscallsPerOp: Map<string, { r: number; w: number }>[] }>();
  for (let round = 0; CLOSED && round < ROUNDS; round++) {
    for (let t = 0; t < targets.length; t++) {
      const [name, op] = targets[(t + round) % targets.length];
      const r = await load(op);
      const acc = results.get(name) ?? { ops: [], p50: [], p99: [], clientCpuUs: [], serverCpuUs: [], byServerUs: [], syscallsPerOp: [] };
      acc.byServerUs.push(r.byServerUs);
      acc.syscallsPerOp.push(r.syscallsPerOp);
      acc.clientCpuUs.push(r.clientCpuUs);
      acc.serverCpuUs.push(r.serverCpuUs);
      acc.ops.push(r.opsPerSec);
      acc.p50.push(r.p50);
      acc.p99.push(r.p99);
      results.set(name, acc);
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${name}: ${Math.round(r.opsPerSec)} ops/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms, CPU/op client ${r.clientCpuUs.toFixed(1)} µs servers ${r.serverCpuUs.toFixed(1)} µs (failed ${r.failed})\n`);
    }
  }
  // Open loop: every rate, every target, rotating order per round and rate; medians over the rounds.
  const open = new Map<string, OpenResult[]>();
  for (let round = 0; round < (RATES.length === 0 ? 0 : ROUNDS); round++) {
    for (const rate of RATES) {
      for (let t = 0; t < targets.length; t++) {
        const [name, op] = targets[(t + round) % targets.length];
        const r = await openLoad(op, rate);
        const key = `${name}@${rate}`;
        open.set(key, [...(open.get(key) ?? []), r]);
        process.stderr.write(`open round ${round + 1}/${ROUNDS} ${rate} ops/s ${name}: p50 ${r.p50.toFixed(3)} p90 ${r.p90.toFixed(3)} p99 ${r.p99.toFixed(3)} p99.9 ${r.p999.toFixed(3)} ms (from send p50 ${r.sendP50.toFixed(3)} p99 ${r.sendP99.toFixed(3)}), CPU/op client ${r.clientCpuUs.toFixed(1)} µs servers ${r.serverCpuUs.toFixed(1)} µs${r.saturated ? ' SATURATED' : ''} (failed ${r.failed})\n`);
      }
    }
  }
  await dyno.close();
  for (const r of [coordinator, direct, coordinatorAp, directAp]) r.disconnect();

  // Failover: kill the owner of half the keys (rack1 node 0) a quarter of the way in; count failures and the last one's time.
  const failover: { share: number[]; recoverMs: number[] } = { share: [], recoverMs: [] };
  for (let round = 0; round < FAILOVER_ROUNDS; round++) {
    const c = await DynoClient.connect({ seeds, dc: 'dc1', rack: 'rack1', pool: { requestTimeoutMs: 500 } });
    let killedAt = 0;
    let lastFailure = 0;
    let sinceKill = 0;
    let failedSinceKill = 0;
    let completed = 0;
    const victim = nodes[0];
    const r = await load((k, w) => (w ? c.set(k, VALUE) : c.get(k)), (ok, at) => {
      completed++;
      if (completed === Math.floor(OPS / 4)) {
        killedAt = performance.now();
        victim.proc!.killNow();
      }
      if (killedAt > 0 && at >= killedAt) {
        sinceKill++;
        if (!ok) {
          failedSinceKill++;
          lastFailure = at;
        }
      }
    });
    const recover = lastFailure === 0 ? 0 : lastFailure - killedAt;
    failover.share.push(sinceKill === 0 ? 0 : failedSinceKill / sinceKill);
    failover.recoverMs.push(recover);
    process.stderr.write(`failover round ${round + 1}: ${failedSinceKill}/${sinceKill} failed after the kill, all succeed again ${recover.toFixed(0)} ms after it (${Math.round(r.opsPerSec)} ops/s overall)\n`);
    await c.close();
    await victim.proc!.exited;
    victim.proc = startNode(victim, nodes);
    await waitForPort(HOST, victim.client, { process: victim.proc, deadlineMs: 30_000 });
    await waitNormal(nodes);
  }

  const rows = targets.filter(([name]) => results.has(name)).map(([name]) => [name, results.get(name)!] as const).map(([name, a]) => ({ target: name, opsPerSec: Math.round(median(a.ops)), p50Ms: median(a.p50), p99Ms: median(a.p99),
    clientCpuUsPerOp: Number(median(a.clientCpuUs).toFixed(1)), serverCpuUsPerOp: Number(median(a.serverCpuUs).toFixed(1)),
    // Per process (median over the rounds), µs per request: which node or Redis pays.
    serverCpuUsPerOpByProcess: Object.fromEntries(servers.map((s) => [s.label, Number(median(a.byServerUs.map((m) => m.get(s.label) ?? 0)).toFixed(1))])),
    // Per process (median over the rounds): read and write system calls per request, 'read/write'; 1/x is the batch size.
    syscallsPerOpByProcess: Object.fromEntries(['client', ...servers.map((s) => s.label)].map((label) => [label,
      `${median(a.syscallsPerOp.map((m) => m.get(label)?.r ?? 0)).toFixed(3)}/${median(a.syscallsPerOp.map((m) => m.get(label)?.w ?? 0)).toFixed(3)}`])) }));
  const openRows = RATES.flatMap((rate) => targets.map(([name]) => [name, open.get(`${name}@${rate}`) ?? []] as const).filter(([, rs]) => rs.length > 0).map(([name, rs]) => ({
    target: name, rate, p50Ms: median(rs.map((r) => r.p50)), p90Ms: median(rs.map((r) => r.p90)), p99Ms: median(rs.map((r) => r.p99)), p999Ms: median(rs.map((r) => r.p999)),
    sendP50Ms: median(rs.map((r) => r.sendP50)), sendP99Ms: median(rs.map((r) => r.sendP99)), clientCpuUsPerOp: Number(median(rs.map((r) => r.clientCpuUs)).toFixed(1)),
    serverCpuUsPerOp: Number(median(rs.map((r) => r.serverCpuUs)).toFixed(1)), saturatedRounds: rs.filter((r) => r.saturated).length, failed: rs.reduce((a, r) => a + r.failed, 0) })));
  const out = { rounds: ROUNDS, openLoop: { rateSeconds: RATE_MS / 1000, rows: openRows }, opsPerRun: OPS, callers: CALLERS, valueBytes: 64, rows, failover: { failedShare: failover.share.length === 0 ? 0 : median(failover.share), recoverMs: failover.recoverMs.length === 0 ? 0 : Math.round(median(failover.recoverMs)), perRound: failover } };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

try {
  await main();
} finally {
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
