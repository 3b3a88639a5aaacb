// Supervisor (main thread): loads the config, spawns the data workers, restarts crashed ones, drains on SIGTERM, reloads on SIGHUP.
// Never touches client traffic: everything on the request path stays inside a worker.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { loadConfig, type LoadedConfig } from './config/index.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';
import { allocStats, poolShapes, sumStats, mergeHistograms, type PoolTotals, type PoolShape, type Histogram } from './stats/index.ts';
import { allocControl, ControlBlock, C_READ_CONSISTENCY, C_WRITE_CONSISTENCY } from './stats/index.ts';
import { CONSISTENCIES } from './config/index.ts';
import { AdminServer } from './admin/index.ts';
import { ClusterHost } from './cluster/index.ts';
import { DATA_WORKER_ENTRY } from './proxy/index.ts';

export interface SupervisorOptions {
  configPath: string;
  workers: number | 'auto';
  log: Logger;
  testHooks: boolean;
}

/**
 * `--workers auto`: one data worker per core but one, leaving a core to the datastore and the kernel's loopback work.
 * The sweep in BENCHMARKS.md (2 cores, client and Redis on the same machine): 1 worker beat 2-4 by 15-30% at pipeline 1
 * and tied them within 3% at pipeline 16.
 */
export function autoWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

interface Slot {
  worker: Worker | null;
  statsSab: SharedArrayBuffer;
  restarts: number;
  recentCrashes: number[];
  listening: boolean;
  listenFailed: boolean;
}

export class Supervisor {
  private readonly opts: SupervisorOptions;
  private config: LoadedConfig;
  readonly workerCount: number;
  /** The stats block layout is fixed at start: a reload never changes the servers. */
  private readonly shapes: PoolShape[];
  private readonly slots: Slot[] = [];
  /** Cluster mode: the cluster worker and the memory it shares with the data workers. */
  readonly cluster: ClusterHost | null;
  /** Node state, consistency and server overrides for every worker; the admin API writes it. */
  readonly control: ControlBlock;
  readonly startedAt = Date.now();
  private admin: AdminServer | null = null;
  private shuttingDown = false;
  private readyResolve: (() => void) | null = null;
  private readyReject: ((e: Error) => void) | null = null;
  restarts = 0;

  constructor(opts: SupervisorOptions, config: LoadedConfig) {
    this.opts = opts;
    this.config = config;
    this.workerCount = opts.workers === 'auto' ? autoWorkers() : opts.workers;
    this.shapes = poolShapes(config.pools);
    this.cluster = ClusterHost.forConfig(config, this.workerCount, opts.log);
    if (this.cluster !== null) this.cluster.onDigest = (payload) => this.post({ type: 'gossip-digest', payload });
    this.control = new ControlBlock(allocControl(this.shapes, this.workerCount), this.shapes, this.workerCount);
    const first = config.pools[0];
    if (first !== undefined) {
      this.control.set(C_READ_CONSISTENCY, CONSISTENCIES.indexOf(first.readConsistency));
      this.control.set(C_WRITE_CONSISTENCY, CONSISTENCIES.indexOf(first.writeConsistency));
    }
  }

  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    for (let i = 0; i < this.workerCount; i++) {
      this.slots.push({ worker: null, statsSab: allocStats(this.shapes), restarts: 0, recentCrashes: [], listening: false, listenFailed: false });
    }
    // Data workers route with the topology table from their first request: the cluster worker publishes it first.
    const published = this.cluster?.start() ?? Promise.resolve();
    void published.then(() => {
      for (let i = 0; i < this.workerCount; i++) this.spawn(i);
    });
    // The admin API is not needed to serve data: a port it cannot take is logged, not fatal.
    this.admin = new AdminServer(this);
    this.admin.listen().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'admin API disabled: cannot listen on stats_listen'));
    return ready;
  }

  private spawn(id: number): void {
    const slot = this.slots[id];
    const data: WorkerData = {
      workerId: id,
      workers: this.workerCount,
      pools: this.config.pools,
      style: this.config.style,
      testHooks: this.opts.testHooks,
      statsSab: slot.statsSab,
      controlSab: this.control.sab,
      cluster: this.cluster?.workerShare(id) ?? null,
    };
    const w = new Worker(new URL('./boot-worker.js', import.meta.url), {
      workerData: { ...data, entry: DATA_WORKER_ENTRY },
      stdout: false,
      stderr: false,
    });
    slot.worker = w;
    slot.listening = false;
    w.on('message', (m: FromWorker) => this.onMessage(id, m));
    w.on('error', (err) => this.opts.log.error({ worker: id, err: err.message, stack: err.stack }, 'worker crashed'));
    w.on('exit', (code) => this.onExit(id, w, code));
  }

  /** PUBSUB NUMSUB in progress: which worker asked (and its id for it), the sums so far, the workers yet to answer. */
  private readonly numsub = new Map<number, { from: number; reqId: number; sums: number[]; waiting: Set<number>; timer: NodeJS.Timeout }>();
  private numsubSeq = 0;

  /** Every live worker counts its subscribers of `names`; the asker gets the sums (after 1 s, whatever has answered). */
  private numsubAsk(from: number, reqId: number, pool: string, kind: number, names: string[]): void {
    const id = ++this.numsubSeq;
    const waiting = new Set<number>();
    this.slots.forEach((s, i) => {
      if (s.worker !== null) waiting.add(i);
    });
    const timer = setTimeout(() => this.numsubDone(id), 1000);
    timer.unref();
    this.numsub.set(id, { from, reqId, sums: names.map(() => 0), waiting, timer });
    for (const i of waiting) this.slots[i].worker?.postMessage({ type: 'numsub-count', reqId: id, pool, kind, names } satisfies ToWorker);
  }

  private numsubDone(id: number): void {
    const q = this.numsub.get(id);
    if (q === undefined) return;
    this.numsub.delete(id);
    clearTimeout(q.timer);
    this.slots[q.from]?.worker?.postMessage({ type: 'numsub-answer', reqId: q.reqId, counts: q.sums } satisfies ToWorker);
  }

  private onMessage(id: number, m: FromWorker): void {
    const slot = this.slots[id];
    switch (m.type) {
      case 'listening':
        slot.listening = true;
        // A (re)started worker answers peers' gossip with the cluster worker's latest records from now on.
        if (this.cluster?.digest != null) slot.worker?.postMessage({ type: 'gossip-digest', payload: this.cluster.digest } satisfies ToWorker);
        if (this.slots.every((s) => s.listening) && this.readyResolve !== null) {
          this.readyResolve();
          this.readyResolve = null;
        }
        break;
      case 'listen-failed':
        slot.listenFailed = true;
        this.opts.log.error({ worker: id, code: m.code }, `cannot listen: ${m.message}`);
        if (this.readyReject !== null) {
          this.readyReject(new Error(`cannot listen: ${m.message}`));
          this.readyReject = null;
        }
        break;
      case 'peer-link-closed':
        this.opts.log.warn({ worker: id, ...m.link }, 'peer link closed');
        break;
      case 'gossip-in':
        this.cluster?.gossipIn(m.payload, m.from, m.dynomite);
        break;
      case 'numsub-ask':
        this.numsubAsk(id, m.reqId, m.pool, m.kind, m.names);
        break;
      case 'numsub-counts': {
        const q = this.numsub.get(m.reqId);
        if (q === undefined || !q.waiting.delete(id)) break;
        m.counts.forEach((n, i) => (q.sums[i] += n));
        if (q.waiting.size === 0) this.numsubDone(m.reqId);
        break;
      }
      case 'connection-fault': {
        const f = m.fault;
        const msg =
          f.what === 'client-exception' ? 'exception while serving a connection: that connection closed, the worker goes on'
          : f.what === 'accept-paused' ? 'out of file descriptors: accepting paused'
          : f.what === 'accept-resumed' ? 'accepting resumed'
          : f.what === 'datastore-auth-refused' ? 'the datastore refuses the proxy\'s AUTH (requirepass)'
          : f.what === 'max-memory-reached' ? 'max_memory reached: commands that may grow memory get -OOM'
          : f.what === 'max-memory-cleared' ? 'back under max_memory'
          : 'accept error';
        if (f.what === 'accept-resumed' || f.what === 'max-memory-cleared') this.opts.log.info({ worker: id, ...f }, msg);
        else this.opts.log.error({ worker: id, ...f }, msg);
        break;
      }
      case 'hints-event':
        if (m.event.what === 'loaded') this.opts.log.info({ worker: id, ...m.event }, 'hints loaded');
        else {
          const msg = m.event.what === 'dropped' ? 'hints dropped' : m.event.what === 'dir-unwritable' ? 'hints_dir not writable' : 'hints file corrupt';
          this.opts.log.warn({ worker: id, ...m.event }, msg);
        }
        break;
      case 'histograms': {
        const pending = this.histogramRequests.get(m.reqId);
        if (pending !== undefined) {
          pending.replies.push(m.latency);
          pending.cross.push(...m.cross);
          if (pending.replies.length >= pending.expected) pending.done();
        }
        break;
      }
      default:
        break;
    }
  }

  private histogramRequests = new Map<number, { expected: number; replies: string[][]; cross: [string, string][]; done: () => void }>();
  /** Peer round trips (µs) merged at the last latency() call: same-DC peers (zone) and other DCs (region); null on a single node. */
  crossLatency: { zone: Histogram; region: Histogram } | null = null;
  private nextReqId = 1;

  /** Counters summed over every worker (a worker that crashed keeps its counts: the block belongs to the slot). */
  counters(): PoolTotals[] {
    const blocks = this.slots.map((s) => s.statsSab);
    const totals = sumStats(blocks, this.shapes);
    // The cluster worker's links (remote-DC writes) count in its own block, shaped for the cluster pool alone.
    const c = this.cluster;
    if (c !== null) {
      const i = this.config.pools.indexOf(c.pool);
      const extra = sumStats([c.statsSab], poolShapes([c.pool]))[0];
      const mine = totals[i];
      if (mine !== undefined && extra !== undefined) {
        mine.peers.forEach((p, j) => {
          const x = extra.peers[j];
          for (const k of Object.keys(p.metrics)) p.metrics[k] += x.metrics[k] ?? 0;
          for (const k of Object.keys(p.failures)) p.failures[k] += x.failures[k] ?? 0;
          for (const k of Object.keys(p.gauges)) p.gauges[k] += x.gauges[k] ?? 0;
        });
      }
    }
    return totals;
  }

  /** Per pool, the latency histogram merged over the live workers (bounded wait: a busy worker is left out). */
  async latency(reset = false, timeoutMs = 1000): Promise<Histogram[]> {
    const live = this.slots.filter((s) => s.worker !== null);
    const reqId = this.nextReqId++;
    const replies: string[][] = [];
    const cross: [string, string][] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.histogramRequests.set(reqId, {
        expected: live.length,
        replies,
        cross,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      for (const s of live) s.worker?.postMessage({ type: 'histograms', reqId, reset } satisfies ToWorker);
      if (live.length === 0) resolve();
    });
    this.histogramRequests.delete(reqId);
    if (this.cluster !== null) this.crossLatency = { zone: mergeHistograms(cross.map((c) => c[0])), region: mergeHistograms(cross.map((c) => c[1])) };
    return this.shapes.map((_, i) => mergeHistograms(replies.map((r) => r[i] ?? '')));
  }

  get workerRestarts(): number {
    return this.restarts;
  }

  get loadedConfig(): LoadedConfig {
    return this.config;
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** The pools and servers as the stats and control blocks lay them out. */
  get poolShapes(): readonly PoolShape[] {
    return this.shapes;
  }

  /** Per worker slot: running or not, and its restarts. */
  workerSlots(): { id: number; alive: boolean; restarts: number }[] {
    return this.slots.map((s, id) => ({ id, alive: s.worker !== null, restarts: s.restarts }));
  }

  private onExit(id: number, w: Worker, code: number): void {
    const slot = this.slots[id];
    if (slot.worker !== w) return;
    slot.worker = null;
    // A worker that could not listen is reported by start(); restarting it would fail the same way.
    if (this.shuttingDown || slot.listenFailed) return;
    this.restarts++;
    slot.restarts++;
    const now = Date.now();
    slot.recentCrashes = slot.recentCrashes.filter((t) => now - t < 60_000);
    slot.recentCrashes.push(now);
    // Crash loops back off, so a poisoned request cannot burn a core.
    const delay = Math.min(5000, 50 * 2 ** (slot.recentCrashes.length - 1));
    this.opts.log.warn({ worker: id, code, restarts: slot.restarts, delayMs: delay }, 'worker exited; restarting');
    setTimeout(() => {
      if (!this.shuttingDown) this.spawn(id);
    }, delay);
  }

  private post(m: ToWorker): void {
    for (const s of this.slots) s.worker?.postMessage(m);
  }

  /** SIGHUP: re-read the file; settings that move no data apply at once, the rest wait for a restart. */
  reload(): void {
    try {
      const next = loadConfig(this.opts.configPath);
      for (const w of next.warnings) this.opts.log.warn(w);
      for (const p of next.pools) {
        const was = this.config.pools.find((q) => q.name === p.name);
        // A port's listener is plain or TLS from the start: new certificates apply at once, TLS on or off at a restart.
        const on = (c: { tls: unknown; clientTls: boolean }): boolean => c.clientTls && c.tls !== null;
        if (was === undefined) continue;
        if (on(was) !== on(p)) this.opts.log.warn({ pool: p.name }, `TLS ${on(p) ? 'on' : 'off'} for the client port: it changes at the next restart`);
        if (was.secureServerOption !== p.secureServerOption) this.opts.log.warn({ pool: p.name }, 'secure_server_option changed: the peer port and links change at the next restart');
        if ((was.adminTls === null) !== (p.adminTls === null)) this.opts.log.warn({ pool: p.name }, 'admin_tls changed: the admin port changes at the next restart');
      }
      this.config = next;
      this.post({ type: 'reload', pools: next.pools });
      this.admin?.reloadTls(next.pools[0]?.adminTls ?? null);
      this.opts.log.info('configuration reloaded (servers, hash and distribution changes need a restart)');
    } catch (err) {
      this.opts.log.error(`reload failed, keeping the running configuration: ${(err as Error).message}`);
    }
  }

  /** SIGTERM: stop accepting, let in-flight requests finish (bounded), then stop the workers. */
  async shutdown(deadlineMs = 5_000): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    void this.admin?.close();
    const exits = this.slots.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.worker === null) return resolve();
          s.worker.once('exit', () => resolve());
        }),
    );
    this.post({ type: 'drain', deadlineMs });
    const hard = setTimeout(() => {
      for (const s of this.slots) void s.worker?.terminate();
    }, deadlineMs + 2000);
    await Promise.all(exits);
    clearTimeout(hard);
    // Data workers are gone: what they queued for other datacenters leaves now, then the cluster worker stops.
    await this.cluster?.stop();
  }
}
