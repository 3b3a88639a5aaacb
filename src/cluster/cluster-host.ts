// ClusterHost (main thread): creates the shared rings and peer table of a cluster node, runs the cluster worker and restarts it if it dies.
// Never touches requests: it only owns the thread and the shared memory the data workers and the cluster worker meet in.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { LoadedConfig, PoolConfig } from '../config/index.ts';
import { ReplicationRing, PeerStates, OVERRIDE_NONE, OVERRIDE_UP, OVERRIDE_DOWN, PEER_UP } from '../peer/index.ts';
import { parseSeed } from '../config/index.ts';
import type { ClusterServer } from '../admin/admin-host.ts';
import type { ClusterWorkerData, FromClusterWorker, ClusterShare } from '../messages.ts';
import { ClusterMap } from '../proxy/cluster-map.ts';

/** Bytes of remote-DC writes each data worker may queue for the cluster worker before it counts drops. */
const RING_BYTES = 8 * 1024 * 1024;

export class ClusterHost {
  readonly pool: PoolConfig;
  readonly rings: ReplicationRing[];
  readonly states: PeerStates;
  readonly topology: SharedArrayBuffer;
  private readonly log: Logger;
  private worker: Worker | null = null;
  private stopping = false;
  restarts = 0;
  last: { forwarded: number; dropped: number; queued: number } = { forwarded: 0, dropped: 0, queued: 0 };

  /** The cluster pool of a config (one with dyn_listen), or null: single-node configs run no cluster worker. */
  static forConfig(config: LoadedConfig, workers: number, log: Logger): ClusterHost | null {
    const pool = config.pools.find((p) => p.dynListen !== null && p.dataStore === 0);
    return pool === undefined ? null : new ClusterHost(pool, workers, log);
  }

  constructor(pool: PoolConfig, workers: number, log: Logger) {
    this.pool = pool;
    this.log = log;
    this.rings = Array.from({ length: workers }, () => ReplicationRing.create(RING_BYTES));
    this.states = PeerStates.create(1 + pool.dynSeeds.length);
    // The topology every data worker reads lock-free (seqlock): published once here from the configuration.
    this.topology = new ClusterMap(pool).publishTable(pool.listen.port);
  }

  /** What data worker `id` gets: its own ring and the shared peer table. */
  workerShare(id: number): ClusterShare {
    return { ring: this.rings[id].sab, peerStates: this.states.sab, topology: this.topology };
  }

  start(): void {
    const data: ClusterWorkerData = { pool: this.pool, rings: this.rings.map((r) => r.sab), peerStates: this.states.sab };
    const w = new Worker(new URL('../boot-worker.js', import.meta.url), {
      workerData: { ...data, entry: new URL('./cluster-worker.ts', import.meta.url).href },
      stdout: false,
      stderr: false,
    });
    this.worker = w;
    w.on('message', (m: FromClusterWorker) => {
      if (m.type === 'peer-state') this.log.info({ peer: m.name, up: m.up }, m.up ? 'peer up' : 'peer down');
      else if (m.type === 'peer-link-closed') this.log.warn({ worker: 'cluster', ...m.link }, 'peer link closed')
      else if (m.type === 'cluster-stats') this.last = { forwarded: m.forwarded, dropped: m.dropped, queued: m.queued };
    });
    w.on('error', (err) => this.log.error({ err: err.message, stack: err.stack }, 'cluster worker crashed'));
    w.on('exit', () => {
      this.worker = null;
      if (this.stopping) return;
      this.restarts++;
      setTimeout(() => {
        if (!this.stopping) this.start();
      }, 200);
    });
  }

  /** Dynomite's /cluster_describe: every node by datacenter and rack, with its first token and liveness. */
  describe(): { dcs: { name: string; racks: { name: string; servers: ClusterServer[] }[] }[] } {
    const p = this.pool;
    const own = { host: p.dynListen?.host ?? p.listen.host, port: p.dynListen?.port ?? 0, rack: p.rack, datacenter: p.datacenter, tokens: p.tokens };
    const nodes = [own, ...p.dynSeeds.map((s) => parseSeed(s))];
    const dcs: { name: string; racks: { name: string; servers: ClusterServer[] }[] }[] = [];
    nodes.forEach((n, i) => {
      let dc = dcs.find((d) => d.name === n.datacenter);
      if (dc === undefined) dcs.push((dc = { name: n.datacenter, racks: [] }));
      let rack = dc.racks.find((r) => r.name === n.rack);
      if (rack === undefined) dc.racks.push((rack = { name: n.rack, servers: [] }));
      const state = i === 0 ? 'normal' : this.states.isDown(i) ? 'down' : this.states.state(i) === PEER_UP ? 'normal' : 'unknown';
      rack.servers.push({ name: `${n.host}:${n.port}`, host: n.host, port: n.port, token: Number(n.tokens[0] ?? 0), state, local: i === 0 });
    });
    return { dcs };
  }

  get replication(): { forwarded: number; dropped: number; queued: number } {
    // Counters come from the cluster worker asynchronously (last answer); the ring depths are read live.
    this.refreshStats();
    let queued = 0;
    for (const r of this.rings) queued += r.depth;
    return { forwarded: this.last.forwarded, dropped: this.last.dropped, queued };
  }

  /** Ask for fresh counters (answered asynchronously into `last`). */
  refreshStats(): void {
    this.worker?.postMessage({ type: 'stats' });
  }

  /** Operator override (admin /peer/up|down|reset/<name|all>): returns how many nodes matched. */
  overridePeer(name: string, mode: 'up' | 'down' | 'reset'): number {
    const o = mode === 'up' ? OVERRIDE_UP : mode === 'down' ? OVERRIDE_DOWN : OVERRIDE_NONE;
    const names = [`${this.pool.dynListen?.host}:${this.pool.dynListen?.port}`, ...this.pool.dynSeeds.map((s) => s.split(':').slice(0, 2).join(':'))];
    let n = 0;
    names.forEach((nm, i) => {
      if (i === 0) return;
      if (name === 'all' || name === nm) {
        this.states.setOverride(i, o);
        n++;
      }
    });
    return n;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const w = this.worker;
    if (w === null) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ type: 'stop' });
    const t = setTimeout(() => void w.terminate(), 1000);
    await exited;
    clearTimeout(t);
  }
}
