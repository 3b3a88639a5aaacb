// ClusterHost (main thread): creates the shared rings and peer table of a cluster node, runs the cluster worker and restarts it if it dies.
// Never touches requests: it only owns the thread and the shared memory the data workers and the cluster worker meet in.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { LoadedConfig, PoolConfig } from '../config/index.ts';
import { ReplicationRing, PeerStates, OVERRIDE_NONE, OVERRIDE_UP, OVERRIDE_DOWN, PEER_UP, PEER_DATASTORE_DOWN, PEER_WARMING } from '../peer/index.ts';
import { topologyFromConfig, createClusterTable } from '../config/index.ts';
import { decodeTopology, formatDynToken, NODE_STATE } from '../topology/index.ts';
import { allocStats, poolShapes } from '../stats/index.ts';
import type { ClusterKeying, ClusterServer } from '../admin/index.ts';
import type { ClusterWorkerData, FromClusterWorker, ClusterShare, WarmUpStatus, GossipStats, RepairStatus, RepairStart } from '../messages.ts';

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
  /** The cluster worker's last warm-up report (cluster/warm-up.ts); null before its first. */
  warmUp: WarmUpStatus | null = null;
  /** Callers waiting for the cluster worker's answer, by answer type (warm-up-answer, cleanup-answer), in asking order. */
  private waiters = new Map<string, ((a: { status: number; message: string }) => void)[]>();
  /** The cluster worker's latest gossip records (what data workers answer peers with); null before its first. */
  digest: Uint8Array | null = null;
  /** Where a new digest goes (the supervisor relays it to every data worker). */
  onDigest: ((payload: Uint8Array) => void) | null = null;
  /** Gossip's figures from the cluster worker's last answer; null before its first. */
  gossip: GossipStats | null = null;
  /** The cluster worker's last anti-entropy report (cluster/repair.ts); null before its first, and on memcached nodes. */
  repair: RepairStatus | null = null;

  /** The cluster pool of a config (one with dyn_listen), or null: single-node configs run no cluster worker. */
  static forConfig(config: LoadedConfig, workers: number, log: Logger): ClusterHost | null {
    const pool = config.pools.find((p) => p.dynListen !== null);
    return pool === undefined ? null : new ClusterHost(pool, workers, log);
  }

  constructor(pool: PoolConfig, workers: number, log: Logger) {
    this.pool = pool;
    this.log = log;
    this.rings = Array.from({ length: workers }, () => ReplicationRing.create(RING_BYTES));
    this.states = PeerStates.create(Math.max(1 + pool.dynSeeds.length, pool.maxNodes));
    // The topology every data worker reads lock-free (seqlock); the cluster worker publishes into it before data workers start.
    this.topology = createClusterTable(topologyFromConfig(pool), pool.maxNodes);
    // Shaped like a data worker's block for this pool alone, so its rows are the pool's peers.
    this.statsSab = allocStats(poolShapes([pool]));
  }

  /** The cluster worker's counters (its peer links: remote-DC writes, their failures by code). */
  readonly statsSab: SharedArrayBuffer;

  /** What data worker `id` gets: its own ring and the shared peer table. */
  workerShare(id: number): ClusterShare {
    return { ring: this.rings[id].sab, peerStates: this.states.sab, topology: this.topology };
  }

  /** Resolves once the cluster worker published the topology (data workers read it from their first request). */
  start(): Promise<void> {
    const data: ClusterWorkerData = {
      pool: this.pool, rings: this.rings.map((r) => r.sab), peerStates: this.states.sab, topology: this.topology, statsSab: this.statsSab,
    };
    const w = new Worker(new URL('../boot-worker.js', import.meta.url), {
      workerData: { ...data, entry: new URL('./cluster-worker.ts', import.meta.url).href },
      stdout: false,
      stderr: false,
    });
    this.worker = w;
    const ready = new Promise<void>((resolve) => {
      w.on('message', (m: FromClusterWorker) => {
        if (m.type === 'cluster-ready') resolve();
      });
      w.once('exit', () => resolve());
    });
    w.on('message', (m: FromClusterWorker) => {
      if (m.type === 'peer-state') this.log.info({ peer: m.name, up: m.up }, m.up ? 'peer up' : 'peer down');
      else if (m.type === 'peer-datastore') this.log.warn({ peer: m.name, datastoreUp: m.up }, m.up ? 'peer datastore back' : 'peer datastore down (the node answers, its datastore does not)');
      else if (m.type === 'peer-link-closed') this.log.warn({ worker: 'cluster', ...m.link }, 'peer link closed')
      else if (m.type === 'cluster-stats') this.last = { forwarded: m.forwarded, dropped: m.dropped, queued: m.queued };
      else if (m.type === 'hints-event') {
        const e = m.event;
        if (e.what === 'loaded') this.log.info({ worker: 'cluster', ...e }, 'hints loaded');
        else this.log.warn({ worker: 'cluster', ...e }, e.what === 'dropped' ? 'hints dropped' : e.what === 'dir-unwritable' ? 'hints_dir not writable' : 'hints file corrupt');
      }
      else if (m.type === 'warm-up') this.warmUp = m.status;
      else if (m.type === 'warm-up-answer' || m.type === 'cleanup-answer' || m.type === 'leave-answer' || m.type === 'move-answer') this.waiters.get(m.type)?.shift()?.({ status: m.status, message: m.message });
      else if (m.type === 'tokens-moved') {
        // The pool a restarted cluster worker gets (and /info's config view) follows the move; the file keeps it across restarts.
        this.pool.tokens = [...m.tokens];
        this.pool.join = m.joining;
      }
      else if (m.type === 'log') this.log[m.level](m.fields, m.msg);
      else if (m.type === 'gossip-digest') {
        this.digest = m.payload;
        this.onDigest?.(m.payload);
      }
      else if (m.type === 'gossip-stats') this.gossip = m.stats;
      else if (m.type === 'repair') this.repair = m.status;
      else if (m.type === 'repair-answer') this.waiters.get(m.type)?.shift()?.({ status: m.status, message: m.message });
    });
    w.on('error', (err) => this.log.error({ err: err.message, stack: err.stack }, 'cluster worker crashed'));
    w.on('exit', () => {
      this.worker = null;
      if (this.stopping) return;
      this.restarts++;
      setTimeout(() => {
        if (!this.stopping) void this.start();
      }, 200);
    });
    return ready;
  }

  /**
   * Dynomite's /cluster_describe: every node of the published topology by datacenter and rack, with its first token and liveness;
   * plus, for token-aware clients, every token, the client port where known, and the pool's hash and hash tag.
   */
  describe(): { dcs: { name: string; racks: { name: string; servers: ClusterServer[] }[] }[] } & ClusterKeying {
    const snap = decodeTopology(this.topology);
    const dcs: { name: string; racks: { name: string; servers: ClusterServer[] }[] }[] = snap.datacenters.map((name) => ({ name, racks: [] }));
    const racks = snap.racks.map((r) => {
      const rack = { name: r.name, servers: [] as ClusterServer[] };
      dcs[r.dc].racks.push(rack);
      return rack;
    });
    snap.nodes.forEach((n, i) => {
      const s = this.states.state(i);
      const state = s === PEER_WARMING ? 'warming' : n.isLocal ? 'normal' : this.states.isDown(i) ? 'down' : s === PEER_UP ? 'normal' : s === PEER_DATASTORE_DOWN ? 'datastore_down' : 'unknown';
      const tokens = n.tokens.map((t) => formatDynToken(t));
      const token = tokens.length > 0 ? Number(tokens[0]) : 0;
      const rack = snap.racks[n.rack];
      // A node's own state as it gossips it (joining, leaving, left) wins over liveness; a settling node's move is still being seen.
      const moving = n.state === NODE_STATE.JOINING ? 'joining' : n.state === NODE_STATE.LEAVING ? 'leaving' : n.state === NODE_STATE.LEFT ? 'left' : null;
      racks[n.rack].servers.push({
        name: `${n.host}:${n.peerPort}`, host: n.host, port: n.peerPort, token, state, local: n.isLocal,
        dc: snap.datacenters[rack.dc], rack: rack.name, tokens, client_port: n.clientPort, node_state: moving ?? state,
        ...(n.settling === true ? { settling: true } : {}),
      });
    });
    const p = this.pool;
    return { dcs: dcs.filter((d) => d.racks.length > 0), hash: p.hash, hash_tag: p.hashTag, data_store: p.dataStore === 0 ? 'redis' : 'memcache' };
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

  /** /state/warm_up: ask the cluster worker to start a warm-up now; its answer (200 started, 409 busy or no source, 400 cannot). */
  startWarmUp(): Promise<{ status: number; message: string }> {
    return this.ask({ type: 'warm-up-start' }, 'warm-up-answer');
  }

  /** POST /cleanup: delete the keys this node handed over (200 started, 409 busy or a move still settling, 400 cannot). */
  startCleanup(): Promise<{ status: number; message: string }> {
    return this.ask({ type: 'cleanup-start' }, 'cleanup-answer');
  }

  /** POST /state/leaving: hand this node's range over and leave the ring (200 started, 409 busy, 400 cannot). */
  startLeave(): Promise<{ status: number; message: string }> {
    return this.ask({ type: 'leave-start' }, 'leave-answer');
  }

  /** POST /ring/move: leave, then join again with `tokens` (200 started, 409 busy or a token taken, 400 cannot). */
  startMove(tokens: readonly string[]): Promise<{ status: number; message: string }> {
    return this.ask({ type: 'move-start', tokens: [...tokens] } as { type: string }, 'move-answer');
  }

  /** POST /repair: ask the cluster worker to start an anti-entropy run (range: key-hash bounds, null the node's whole range). */
  startRepair(range: { start: number; end: number } | null): Promise<{ status: number; message: string }> {
    const m: RepairStart = { type: 'repair-start', range };
    return this.ask(m, 'repair-answer');
  }

  private ask(message: { type: string }, answer: string): Promise<{ status: number; message: string }> {
    const w = this.worker;
    if (w === null) return Promise.resolve({ status: 503, message: 'the cluster worker is restarting; try again' });
    const list = this.waiters.get(answer) ?? [];
    this.waiters.set(answer, list);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        resolve({ status: 503, message: 'the cluster worker did not answer' });
      }, 5000);
      const done = (a: { status: number; message: string }): void => {
        clearTimeout(t);
        resolve(a);
      };
      list.push(done);
      w.postMessage(message);
    });
  }

  /** A peer's gossip records a data worker received (relayed by the supervisor) go to the cluster worker, which owns membership. */
  gossipIn(payload: Uint8Array, from: string, dynomite: boolean): void {
    this.worker?.postMessage({ type: 'gossip-in', payload, from, dynomite });
  }

  /** Operator override (admin /peer/up|down|reset/<name|all>): returns how many nodes matched. */
  overridePeer(name: string, mode: 'up' | 'down' | 'reset'): number {
    const o = mode === 'up' ? OVERRIDE_UP : mode === 'down' ? OVERRIDE_DOWN : OVERRIDE_NONE;
    // Names as the published table has them (gossip may have added nodes): host:peerPort.
    const names = decodeTopology(this.topology).nodes.map((node) => `${node.host}:${node.peerPort}`);
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
