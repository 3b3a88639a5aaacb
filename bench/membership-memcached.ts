// Membership benchmark, memcached pools (issue 12): node 1 joins a rack of one whose memcached holds N items (64-byte values, flags,
// every tenth with a TTL), copying its range (dynoproxy_range + ms add mode); then it leaves and hands its items back. No client load
// (bench/membership.ts measures that on redis): the copy's own speed with the default warm_up_batch / warm_up_pause, keys/s and MB/s,
// and the items each memcached holds afterwards. Every wait has a deadline; every process started is stopped.
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ProcessGroup } from './lib/process-group.ts';
import { freePorts } from './lib/free-port.ts';
import { waitForPort } from './lib/wait-for-port.ts';
import { repoRoot } from './lib/server-launchers.ts';
import { describeMachine } from './lib/machine-info.ts';
import { median } from './lib/median.ts';
import { writeResults } from './lib/results-store.ts';
import { hashFunction, hashTagRange } from '../src/topology/index.ts';

const { values: opt } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    deadline: { type: 'string', default: '300' },
    'no-save': { type: 'boolean', default: false },
  },
});
const KEYS = Number(opt.keys);
const RUNS = Number(opt.runs);
const DEADLINE_MS = Number(opt.deadline) * 1000;
const HOST = '127.0.0.1';
const TWO_32 = 2 ** 32;
const OFFSET = 101_134_286;
const VALUE = 'v'.repeat(64);

interface Node { name: string; token: number; client: number; peer: number; admin: number; mc: number }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

async function waitFor(what: string, cond: () => Promise<boolean>, deadlineMs: number, pollMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      if (await cond()) return Date.now() - t0;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > deadlineMs) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

async function getJson<T>(n: Node, p: string): Promise<T> {
  return (await (await fetch(`http://${HOST}:${n.admin}${p}`, { signal: AbortSignal.timeout(5000) })).json()) as T;
}
type Described = { dcs: { racks: { servers: { name: string; node_state: string }[] }[] }[] };
async function states(n: Node): Promise<string[]> {
  const d = await getJson<Described>(n, '/cluster_describe');
  return d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => s.node_state)));
}
type WarmUp = { phase: string; keys_copied: number; bytes_copied: number; keys_skipped: number; keys_failed: number; started_at: number; finished_at: number; last_error: string };
type Info = { warm_up?: WarmUp; gossip?: { join: string } };
const info = (n: Node): Promise<Info> => getJson<Info>(n, '/info');

const murmur = hashFunction('murmur');
const tagRange = new Int32Array(2);
function ownerIndex(tokens: readonly number[], key: string): number {
  const buf = Buffer.from(key);
  hashTagRange(buf, 0, buf.length, 0x7b, 0x7d, tagRange);
  const h = murmur(buf, tagRange[0]!, tagRange[1]!);
  let best = -1;
  let smallest = 0;
  tokens.forEach((t, i) => {
    if (t < tokens[smallest]!) smallest = i;
    if (t >= h && (best === -1 || t < tokens[best]!)) best = i;
  });
  return best === -1 ? smallest : best;
}

/** Send `bytes` to a memcached and wait until `count` reply lines matching `line` came (or the deadline). */
function exchange(port: number, bytes: Buffer, count: number, line: RegExp, ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`memcached ${port}: no reply in ${ms} ms`));
    }, ms);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if ((text.match(new RegExp(line.source, 'gm'))?.length ?? 0) >= count) {
        clearTimeout(timer);
        s.end();
        resolve(text);
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function items(port: number): Promise<number> {
  return Number(/STAT curr_items (\d+)/.exec(await exchange(port, Buffer.from('stats\r\n'), 1, /^END\r$/))?.[1] ?? -1);
}

async function fill(port: number): Promise<void> {
  for (let i = 0; i < KEYS; i += 1000) {
    const n = Math.min(1000, KEYS - i);
    const reqs = Array.from({ length: n }, (_, j) => `set key:${i + j} ${(i + j) % 7} ${(i + j) % 10 === 0 ? 3600 : 0} ${VALUE.length}\r\n${VALUE}\r\n`).join('');
    await exchange(port, Buffer.from(reqs), n, /^STORED\r$/);
  }
}

class Bench {
  readonly group = new ProcessGroup();
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-bench-mcmoves-'));

  async nodes(tokens: number[]): Promise<Node[]> {
    const ports = await freePorts(tokens.length * 4);
    return tokens.map((token, i) => ({ name: `n${i}`, token, client: ports[4 * i]!, peer: ports[4 * i + 1]!, admin: ports[4 * i + 2]!, mc: ports[4 * i + 3]! }));
  }

  async startMemcached(n: Node): Promise<void> {
    const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : [];
    const p = this.group.start({
      name: `memcached-${n.mc}`, command: 'memcached', args: [...asRoot, '-l', HOST, '-p', String(n.mc), '-U', '0', '-m', '512'],
      logPath: path.join(this.dir, `memcached-${n.mc}.log`),
    });
    await waitForPort(HOST, n.mc, { process: p });
  }

  spawn(n: Node, seeds: Node[], extra: string[] = []): Promise<void> {
    const file = path.join(this.dir, `${n.name}-${n.client}.yml`);
    writeFileSync(file, ['bench_mcmoves:', '  datacenter: dc1', '  rack: rack1', `  listen: ${HOST}:${n.client}`, `  dyn_listen: ${HOST}:${n.peer}`,
      '  dyn_seed_provider: simple_provider', ...(seeds.length === 0 ? ['  dyn_seeds: []'] : ['  dyn_seeds:', ...seeds.map((s) => `  - ${HOST}:${s.peer}:rack1:dc1:${s.token}`)]),
      `  tokens: '${n.token}'`, '  hash: murmur', "  hash_tag: '{}'", '  data_store: 1', '  servers:', `  - ${HOST}:${n.mc}:1`, '  timeout: 5000', '  preconnect: true',
      `  stats_listen: ${HOST}:${n.admin}`, '  handoff_grace: 3000', ...extra, ''].join('\n'));
    const proc = this.group.start({
      name: `dynoproxy-${n.name}`, command: path.join(repoRoot, 'node_modules', '.bin', 'node'), args: [path.join(repoRoot, 'src', 'cli.ts'), '-c', file, '--workers', '1'],
      logPath: path.join(this.dir, `${n.name}-${n.client}.log`), env: { ...process.env, DYNOPROXY_LOG_LEVEL: 'warn' },
    });
    return waitForPort(HOST, n.client, { process: proc, deadlineMs: 60_000 });
  }
}

interface MoveFigures { secondsToSettled: number; copySeconds: number; keysCopied: number; keysSkipped: number; keysFailed: number; keysPerSecond: number; mbPerSecond: number; lastError: string }

function figures(w: WarmUp | undefined, settled: number): MoveFigures {
  const s = w !== undefined && w.finished_at > w.started_at ? (w.finished_at - w.started_at) / 1000 : NaN;
  const keys = w?.keys_copied ?? 0;
  return {
    secondsToSettled: settled, copySeconds: s, keysCopied: keys, keysSkipped: w?.keys_skipped ?? 0, keysFailed: w?.keys_failed ?? 0,
    keysPerSecond: Math.round(keys / s), mbPerSecond: Number((((w?.bytes_copied ?? 0) / s) / 1e6).toFixed(2)), lastError: w?.last_error ?? '',
  };
}

async function joinAndLeave(b: Bench, run: number): Promise<{ join: MoveFigures; leave: MoveFigures; n1Owns: number; itemsOnN1AfterJoin: number; itemsOnN0AfterLeave: number }> {
  const tokens = [OFFSET, (Math.floor(TWO_32 / 2) + OFFSET) % TWO_32];
  const [n0, n1] = (await b.nodes(tokens)) as [Node, Node];
  await Promise.all([b.startMemcached(n0), b.startMemcached(n1)]);
  await fill(n0.mc);
  let n1Owns = 0;
  for (let i = 0; i < KEYS; i++) if (ownerIndex(tokens, `key:${i}`) === 1) n1Owns++;
  await b.spawn(n0, []);
  await sleep(1500);
  log(`run ${run}: join starts (${KEYS} items on node 0, ${n1Owns} of them node 1's)`);
  const t0 = Date.now();
  await b.spawn(n1, [n0], ['  join: true']);
  await waitFor('node 1 to finish joining', async () => (await info(n1)).gossip?.join === 'done', DEADLINE_MS);
  await waitFor('both nodes normal everywhere', async () => (await states(n0)).every((s) => s === 'normal') && (await states(n1)).every((s) => s === 'normal'), DEADLINE_MS, 50);
  const join = figures((await info(n1)).warm_up, (Date.now() - t0) / 1000);
  const itemsOnN1AfterJoin = await items(n1.mc);
  log(`run ${run}: join ${JSON.stringify(join)}; node 1's memcached holds ${itemsOnN1AfterJoin}`);
  await sleep(4000);
  // Node 0 still holds its copies (memcached has no cleanup): the leave's purge deletes them first, so the hand-over stores them all.
  const t1 = Date.now();
  const res = await fetch(`http://${HOST}:${n1.admin}/state/leaving`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`POST /state/leaving: ${res.status} ${await res.text()}`);
  await waitFor('node 0 to see node 1 left', async () => (await states(n0)).includes('left'), DEADLINE_MS, 50);
  const leave = figures((await info(n1)).warm_up, (Date.now() - t1) / 1000);
  const itemsOnN0AfterLeave = await items(n0.mc);
  log(`run ${run}: leave ${JSON.stringify(leave)}; node 0's memcached holds ${itemsOnN0AfterLeave}`);
  return { join, leave, n1Owns, itemsOnN1AfterJoin, itemsOnN0AfterLeave };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const runs: Awaited<ReturnType<typeof joinAndLeave>>[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const b = new Bench();
    try {
      runs.push(await joinAndLeave(b, run));
    } finally {
      await b.group.stopAll();
    }
  }
  const med = (f: (r: (typeof runs)[number]) => number): number => median(runs.map(f));
  const summary = {
    keys: KEYS,
    join: { secondsToSettled: med((r) => r.join.secondsToSettled), copySeconds: med((r) => r.join.copySeconds), keysPerSecond: med((r) => r.join.keysPerSecond), mbPerSecond: med((r) => r.join.mbPerSecond),
      missingOnN1: Math.max(...runs.map((r) => r.n1Owns - r.itemsOnN1AfterJoin)) },
    leave: { secondsToSettled: med((r) => r.leave.secondsToSettled), copySeconds: med((r) => r.leave.copySeconds), keysPerSecond: med((r) => r.leave.keysPerSecond), mbPerSecond: med((r) => r.leave.mbPerSecond),
      missingOnN0: Math.max(...runs.map((r) => KEYS - r.itemsOnN0AfterLeave)) },
  };
  const result = { suite: 'membership-memcached', startedAt: startedAt.toISOString(), machine: describeMachine(), loadavgBefore: loadBefore, loadavgAfter: os.loadavg(), summary, runs };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (opt['no-save'] !== true) log(`results: ${writeResults(path.join(repoRoot, 'bench', 'results'), 'membership-memcached', startedAt, result)}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
