// Membership benchmark (issue 12): a second node joins a rack of one filled with N keys under 8 writers and 2 readers, then leaves it
// again; every acknowledged write verified after each. Between the two (--move, on by default), node 1 moves its token (POST
// /ring/move: a leave, handoff_grace, a join at the new token, a cleanup) under the same load, verified the same way. Then gossip convergence of 6 nodes seeded in a chain, and a 7th started later.
// Never runs unbounded: every wait has a deadline, every load loop a count and a time bound; every process started is stopped.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ProcessGroup, type ManagedProcess } from './lib/process-group.ts';
import { freePorts } from './lib/free-port.ts';
import { waitForPort } from './lib/wait-for-port.ts';
import { repoRoot } from './lib/server-launchers.ts';
import { describeMachine } from './lib/machine-info.ts';
import { median } from './lib/median.ts';
import { writeResults } from './lib/results-store.ts';
import { Acked, COUNTER_BASE, startLoad, verify, type LoadFigures } from './lib/membership-load.ts';
import { hashFunction, hashTagRange } from '../src/topology/index.ts';

const { values: opt } = parseArgs({
  options: {
    keys: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    grace: { type: 'string', default: '5000' },
    // Counters ctr:0..N-1 set to 1000 before the join; 1 write in 8 becomes an INCR of one of them. 0: SET-only load.
    counters: { type: 'string', default: '0' },
    // Node 1 moves its token from the ring's half to its quarter between the join and the leave (POST /ring/move).
    move: { type: 'boolean', default: true },
    deadline: { type: 'string', default: '300' },
    'no-save': { type: 'boolean', default: false },
  },
});
const KEYS = Number(opt.keys);
const RUNS = Number(opt.runs);
const GRACE = Number(opt.grace);
const DEADLINE_MS = Number(opt.deadline) * 1000;
const OVERWRITE_SPAN = Math.min(8000, Math.floor(KEYS / 4));
const COUNTERS = Number(opt.counters);
const HOST = '127.0.0.1';
const TWO_32 = 2 ** 32;
const OFFSET = 101_134_286;

interface Node { name: string; dc: string; rack: string; token: number; client: number; peer: number; admin: number; redis: number; proc?: ManagedProcess }

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
async function states(n: Node): Promise<Record<string, string>> {
  const d = await getJson<Described>(n, '/cluster_describe');
  return Object.fromEntries(d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => [s.name, s.node_state]))));
}
type WarmUp = { phase: string; keys_copied: number; bytes_copied: number; keys_skipped?: number; started_at: number; finished_at: number };
type Cleanup = { running: boolean | string; runs: number; keys_scanned?: number; keys_deleted: number; started_at?: number; finished_at?: number; last_error?: string };
type RingMove = { phase: string; started_at: number; finished_at: number; last_error: string };
type Info = { warm_up?: WarmUp; gossip?: { join: string; cleanup: Cleanup; move?: RingMove } };
const info = (n: Node): Promise<Info> => getJson<Info>(n, '/info');

/** The owner of a key in a rack with `tokens` (hash murmur, hash_tag "{}": the configs below): first token >= hash, else the smallest. */
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

class Bench {
  readonly group = new ProcessGroup();
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-bench-membership-'));

  async nodes(layout: { dc: string; rack: string; token: number }[]): Promise<Node[]> {
    const ports = await freePorts(layout.length * 4);
    return layout.map((l, i) => ({ ...l, name: `n${i}`, client: ports[4 * i]!, peer: ports[4 * i + 1]!, admin: ports[4 * i + 2]!, redis: ports[4 * i + 3]! }));
  }

  async startRedis(n: Node): Promise<void> {
    const p = this.group.start({
      name: `redis-${n.redis}`, command: 'redis-server',
      args: ['--port', String(n.redis), '--bind', HOST, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'],
      logPath: path.join(this.dir, `redis-${n.redis}.log`),
    });
    await waitForPort(HOST, n.redis, { process: p });
  }

  /** Spawns the node's dynoproxy (one data worker); `listening` resolves when its client port accepts. */
  spawn(n: Node, seeds: Node[], extra: string[] = []): { listening: Promise<void> } {
    const file = path.join(this.dir, `${n.name}-${n.client}.yml`);
    writeFileSync(file, ['bench_membership:', `  datacenter: ${n.dc}`, `  rack: ${n.rack}`, `  listen: ${HOST}:${n.client}`, `  dyn_listen: ${HOST}:${n.peer}`,
      '  dyn_seed_provider: simple_provider', ...(seeds.length === 0 ? ['  dyn_seeds: []'] : ['  dyn_seeds:', ...seeds.map((s) => `  - ${HOST}:${s.peer}:${s.rack}:${s.dc}:${s.token}`)]),
      `  tokens: '${n.token}'`, '  hash: murmur', "  hash_tag: '{}'", '  servers:', `  - ${HOST}:${n.redis}:1`, '  timeout: 5000', '  preconnect: true',
      `  stats_listen: ${HOST}:${n.admin}`, `  handoff_grace: ${GRACE}`, ...extra, ''].join('\n'));
    n.proc = this.group.start({
      name: `dynoproxy-${n.name}`, command: path.join(repoRoot, 'node_modules', '.bin', 'node'), args: [path.join(repoRoot, 'src', 'cli.ts'), '-c', file, '--workers', '1'],
      logPath: path.join(this.dir, `${n.name}-${n.client}.log`), env: { ...process.env, DYNOPROXY_LOG_LEVEL: 'warn' },
    });
    return { listening: waitForPort(HOST, n.client, { process: n.proc, deadlineMs: 60_000 }) };
  }
}

interface MoveFigures {
  secondsToSettled: number; copySeconds: number; keysCopied: number; bytesCopied: number; keysSkipped: number; keysPerSecond: number; mbPerSecond: number;
  load: LoadFigures; errorRate: number; verify: Awaited<ReturnType<typeof verify>>;
  cleanup?: { keysDeleted: number; keysScanned: number; seconds: number; lastError: string; oldOwnerKeysOfNewOwner: number };
  dbsize: number[];
}

function copyFigures(w: WarmUp | undefined): Pick<MoveFigures, 'copySeconds' | 'keysCopied' | 'bytesCopied' | 'keysSkipped' | 'keysPerSecond' | 'mbPerSecond'> {
  const s = w !== undefined && w.finished_at > w.started_at ? (w.finished_at - w.started_at) / 1000 : NaN;
  const keys = w?.keys_copied ?? 0;
  const bytes = w?.bytes_copied ?? 0;
  return { copySeconds: s, keysCopied: keys, bytesCopied: bytes, keysSkipped: w?.keys_skipped ?? 0, keysPerSecond: Math.round(keys / s), mbPerSecond: Number((bytes / s / 1e6).toFixed(2)) };
}

async function dbsize(port: number): Promise<number> {
  const r = new Redis({ host: HOST, port });
  try {
    return await r.dbsize();
  } finally {
    r.disconnect();
  }
}

const loadOptions = { counters: COUNTERS, writers: 8, readers: 2, prefilled: KEYS, overwriteSpan: OVERWRITE_SPAN, maxMs: DEADLINE_MS, maxOpsPerConnection: 5_000_000 };

/**
 * Node 1 moves its token to the ring's quarter under load (writers through both nodes): every acknowledged write is then on its owner
 * under the new tokens; `tokens` is updated. The move's own seconds (leave, grace, join, cleanup) and the load's figures.
 */
async function ringMove(b: Bench, n0: Node, n1: Node, tokens: number[], acked: Acked, run: number): Promise<MoveFigures & { moveSeconds: number; leaveCopy: number }> {
  const to = (Math.floor(TWO_32 / 4) + OFFSET) % TWO_32;
  const load = startLoad({ ...loadOptions, writerPorts: [n0.client, n1.client], readerPort: n0.client, tag: `m${run}` }, acked);
  await sleep(3000);
  log(`run ${run}: ring move ${tokens[1]} -> ${to} starts`);
  const t0 = Date.now();
  const res = await fetch(`http://${HOST}:${n1.admin}/ring/move?token=${to}`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`POST /ring/move: ${res.status} ${await res.text()}`);
  await waitFor('node 1 to rejoin (joining done)', async () => (await info(n1)).gossip?.move?.phase === 'cleanup' || (await info(n1)).gossip?.move?.phase === 'done', 2 * DEADLINE_MS, 200);
  const leaveCopy = (await info(n1)).warm_up;
  await waitFor('the ring move to finish', async () => {
    const p = (await info(n1)).gossip?.move?.phase;
    if (p === 'failed') throw new Error(`ring move failed: ${(await info(n1)).gossip?.move?.last_error}`);
    return p === 'done';
  }, 2 * DEADLINE_MS, 200);
  const moveSeconds = (Date.now() - t0) / 1000;
  load.stop();
  const figures = await load.done;
  tokens[1] = to;
  const owner = (key: string): number => [n0.redis, n1.redis][ownerIndex(tokens, key)]!;
  log(`run ${run}: ring move done in ${moveSeconds} s; verifying ${acked.values.size} keys`);
  const moveVerify = await verify(acked, n1.client, owner, KEYS, OVERWRITE_SPAN);
  const fig = {
    secondsToSettled: moveSeconds, moveSeconds, leaveCopy: leaveCopy?.keys_copied ?? 0, ...copyFigures((await info(n1)).warm_up), load: figures,
    errorRate: (figures.writeErrors + figures.readErrors) / (figures.writes + figures.reads), verify: moveVerify, dbsize: [await dbsize(n0.redis), await dbsize(n1.redis)],
  };
  log(`run ${run}: ring move ${JSON.stringify(fig)}`);
  return fig;
}

async function joinAndLeave(b: Bench, run: number): Promise<{ join: MoveFigures; move: (MoveFigures & { moveSeconds: number }) | null; leave: MoveFigures }> {
  const tokens = [OFFSET, (Math.floor(TWO_32 / 2) + OFFSET) % TWO_32];
  const [n0, n1] = (await b.nodes(tokens.map((token) => ({ dc: 'dc1', rack: 'rack1', token })))) as [Node, Node];
  await Promise.all([b.startRedis(n0), b.startRedis(n1)]);
  const r0 = new Redis({ host: HOST, port: n0.redis });
  await r0.call('DEBUG', 'POPULATE', String(KEYS), 'key', '64');
  for (let i = 0; i < COUNTERS; i += 1000) await r0.mset(...Array.from({ length: Math.min(1000, COUNTERS - i) }, (_, j) => [`ctr:${i + j}`, String(COUNTER_BASE)]).flat());
  r0.disconnect();
  await b.spawn(n0, []).listening;
  await sleep(1500);
  const acked = new Acked();
  // Join: 8 writers and 2 readers through node 0 for the whole move, the flip and the grace after it.
  let load = startLoad({ ...loadOptions, writerPorts: [n0.client], readerPort: n0.client, tag: `j${run}` }, acked);
  await sleep(3000);
  log(`run ${run}: join starts`);
  const t0 = Date.now();
  await b.spawn(n1, [n0], ['  join: true', `  hints_dir: ${path.join(b.dir, `hints-${n1.client}`)}`]).listening;
  await waitFor('node 1 to finish joining', async () => (await info(n1)).gossip?.join === 'done', DEADLINE_MS);
  await waitFor('both nodes normal everywhere', async () => {
    for (const n of [n0, n1]) {
      const s = Object.values(await states(n));
      if (s.length !== 2 || !s.every((x) => x === 'normal')) return false;
    }
    return true;
  }, DEADLINE_MS, 50);
  const settled = (Date.now() - t0) / 1000;
  // The grace, then the old owner's cleanup, all under load.
  await waitFor('node 0 to clean up', async () => {
    const c = (await info(n0)).gossip?.cleanup;
    return c !== undefined && c.runs > 0 && String(c.running) === 'false';
  }, GRACE + DEADLINE_MS, 200);
  load.stop();
  let figures = await load.done;
  const c = (await info(n0)).gossip!.cleanup;
  const owner = (key: string): number => [n0.redis, n1.redis][ownerIndex(tokens, key)]!;
  log(`run ${run}: join settled in ${settled} s; verifying ${acked.values.size} keys`);
  const joinVerify = await verify(acked, n1.client, owner, KEYS, OVERWRITE_SPAN);
  // Keys node 1 owns that node 0 still holds after its cleanup (a sample of the moved pre-filled keys).
  const moved = Array.from({ length: 5000 }, (_, i) => `key:${KEYS - 1 - i}`).filter((k) => owner(k) === n1.redis);
  const r0b = new Redis({ host: HOST, port: n0.redis });
  const stale = (await Promise.all(moved.map((k) => r0b.exists(k)))).reduce((a, x) => a + x, 0);
  r0b.disconnect();
  const join: MoveFigures = {
    secondsToSettled: settled, ...copyFigures((await info(n1)).warm_up), load: figures, errorRate: (figures.writeErrors + figures.readErrors) / (figures.writes + figures.reads),
    verify: joinVerify, dbsize: [await dbsize(n0.redis), await dbsize(n1.redis)],
    cleanup: { keysDeleted: c.keys_deleted, keysScanned: c.keys_scanned ?? 0, seconds: ((c.finished_at ?? 0) - (c.started_at ?? 0)) / 1000, lastError: c.last_error ?? '', oldOwnerKeysOfNewOwner: stale },
  };
  log(`run ${run}: join ${JSON.stringify(join)}`);
  const move = opt.move === true ? await ringMove(b, n0, n1, tokens, acked, run) : null;
  // Leave: node 1 decommissions under the same load (writers through both nodes, readers through node 0).
  load = startLoad({ ...loadOptions, writerPorts: [n0.client, n1.client], readerPort: n0.client, tag: `l${run}` }, acked);
  await sleep(3000);
  log(`run ${run}: leave starts`);
  const t1 = Date.now();
  const res = await fetch(`http://${HOST}:${n1.admin}/state/leaving`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`POST /state/leaving: ${res.status} ${await res.text()}`);
  await waitFor('node 0 to see node 1 left', async () => Object.values(await states(n0)).includes('left'), DEADLINE_MS, 50);
  const left = (Date.now() - t1) / 1000;
  await sleep(GRACE + 1000);
  load.stop();
  figures = await load.done;
  log(`run ${run}: left in ${left} s; verifying ${acked.values.size} keys`);
  const leaveVerify = await verify(acked, n0.client, () => n0.redis, KEYS, OVERWRITE_SPAN);
  const leave: MoveFigures = {
    secondsToSettled: left, ...copyFigures((await info(n1)).warm_up), load: figures, errorRate: (figures.writeErrors + figures.readErrors) / (figures.writes + figures.reads),
    verify: leaveVerify, dbsize: [await dbsize(n0.redis), await dbsize(n1.redis)],
  };
  log(`run ${run}: leave ${JSON.stringify(leave)}`);
  await b.group.stopAll();
  return { join, move, leave };
}

async function convergence(b: Bench): Promise<{ sixListening: number; sixConverged: number; seventhListening: number; seventhListed: number; seventhListedAfterListening: number }> {
  // dc1: rack1 and rack2 with 3 nodes each; node i lists only node i-1 as seed. The 7th: dc1/rack3 alone, seeded with node 5.
  const layout = [0, 1, 2, 3, 4, 5].map((i) => ({ dc: 'dc1', rack: i < 3 ? 'rack1' : 'rack2', token: (Math.floor(TWO_32 / 3) * (i % 3) + OFFSET) % TWO_32 }));
  const nodes = await b.nodes([...layout, { dc: 'dc1', rack: 'rack3', token: OFFSET }]);
  await Promise.all(nodes.map((n) => b.startRedis(n)));
  const six = nodes.slice(0, 6);
  const lists = async (n: Node, count: number): Promise<boolean> => Object.keys(await states(n)).length === count;
  const t0 = Date.now();
  const spawned = six.map((n, i) => b.spawn(n, i === 0 ? [] : [six[i - 1]!]));
  const listened = Promise.all(spawned.map((s) => s.listening)).then(() => Date.now() - t0);
  await waitFor('six nodes to list each other', async () => (await Promise.all(six.map((n) => lists(n, 6)))).every(Boolean), DEADLINE_MS, 50);
  const sixConverged = Date.now() - t0;
  const sixListening = await listened;
  await sleep(2000);
  const seventh = nodes[6]!;
  const t1 = Date.now();
  const s = b.spawn(seventh, [six[5]!]);
  let seventhListening = 0;
  void s.listening.then(() => (seventhListening = Date.now() - t1));
  await waitFor('every node to list the 7th', async () => (await Promise.all(nodes.map((n) => lists(n, 7)))).every(Boolean), DEADLINE_MS, 50);
  const seventhListed = Date.now() - t1;
  await s.listening;
  await b.group.stopAll();
  return { sixListening, sixConverged, seventhListening, seventhListed, seventhListedAfterListening: seventhListed - seventhListening };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const runs: unknown[] = [];
  const joins: MoveFigures[] = [];
  const leaves: MoveFigures[] = [];
  const moves: (MoveFigures & { moveSeconds: number })[] = [];
  const convs: Awaited<ReturnType<typeof convergence>>[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const b = new Bench();
    try {
      const jl = await joinAndLeave(b, run);
      const conv = await convergence(b);
      log(`run ${run}: convergence ${JSON.stringify(conv)}`);
      joins.push(jl.join);
      leaves.push(jl.leave);
      if (jl.move !== null) moves.push(jl.move);
      convs.push(conv);
      runs.push({ run, ...jl, convergence: conv, loadavg: os.loadavg() });
    } finally {
      await b.group.stopAll();
    }
  }
  const med = <T>(xs: T[], f: (x: T) => number): number => median(xs.map(f));
  const summary = {
    join: { secondsToSettled: med(joins, (j) => j.secondsToSettled), keysPerSecond: med(joins, (j) => j.keysPerSecond), mbPerSecond: med(joins, (j) => j.mbPerSecond),
      errorRate: med(joins, (j) => j.errorRate), nils: med(joins, (j) => j.load.nils), missing: Math.max(...joins.map((j) => j.verify.missingViaProxy + j.verify.missingOnOwner + j.verify.prefilledMissingOnOwner)),
      countersWrong: Math.max(...joins.map((j) => j.verify.countersWrong)), incrementsLost: Math.max(...joins.map((j) => j.verify.incrementsLost)),
      cleanupSeconds: med(joins, (j) => j.cleanup?.seconds ?? NaN), cleanupKeysDeleted: med(joins, (j) => j.cleanup?.keysDeleted ?? NaN) },
    leave: { secondsToSettled: med(leaves, (j) => j.secondsToSettled), keysPerSecond: med(leaves, (j) => j.keysPerSecond), mbPerSecond: med(leaves, (j) => j.mbPerSecond),
      errorRate: med(leaves, (j) => j.errorRate), nils: med(leaves, (j) => j.load.nils), missing: Math.max(...leaves.map((j) => j.verify.missingViaProxy + j.verify.missingOnOwner + j.verify.prefilledMissingOnOwner)),
      countersWrong: Math.max(...leaves.map((j) => j.verify.countersWrong)), incrementsLost: Math.max(...leaves.map((j) => j.verify.incrementsLost)) },
    move: moves.length === 0 ? null : {
      seconds: med(moves, (m) => m.moveSeconds), joinKeysPerSecond: med(moves, (m) => m.keysPerSecond), errorRate: med(moves, (m) => m.errorRate),
      nils: med(moves, (m) => m.load.nils), missing: Math.max(...moves.map((m) => m.verify.missingViaProxy + m.verify.missingOnOwner + m.verify.prefilledMissingOnOwner)),
      countersWrong: Math.max(...moves.map((m) => m.verify.countersWrong)), incrementsLost: Math.max(...moves.map((m) => m.verify.incrementsLost)),
    },
    convergence: { sixConvergedMs: med(convs, (c) => c.sixConverged), sixListeningMs: med(convs, (c) => c.sixListening), seventhListedMs: med(convs, (c) => c.seventhListed),
      seventhListedAfterListeningMs: med(convs, (c) => c.seventhListedAfterListening) },
  };
  const result = { suite: 'membership', startedAt: startedAt.toISOString(), keys: KEYS, grace: GRACE, counters: COUNTERS, machine: describeMachine(), loadavgBefore: loadBefore, loadavgAfter: os.loadavg(), summary, runs };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (opt['no-save'] !== true) log(`results: ${writeResults(path.join(repoRoot, 'bench', 'results'), 'membership', startedAt, result)}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  // A failed run may leave client connections retrying: the processes are stopped (each run's finally), so end here.
  .finally(() => process.exit());
