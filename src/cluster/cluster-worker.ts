// Cluster worker thread: failure detection of every other node, and batched cross-datacenter replication drained from the data workers' rings.
// Never sits on the client request path: data workers hand it remote-DC writes through bounded rings and read peer states lock-free.
import { parentPort, workerData } from 'node:worker_threads';
import { topologyFromConfig, type PoolConfig } from '../config/index.ts';
import { ReplicationRing, PeerStates, PEER_UP, PEER_DOWN } from '../peer/index.ts';
import { ClusterView, TopologyWriter } from '../topology/index.ts';
import { F_NONE, F_ERROR_REPLY, F_PEER_DOWN } from '../protocol/failure/index.ts';
import { S, S_REPLICA_FAILURES, WorkerStatsView, poolShapes } from '../stats/index.ts';
import { newPeerLink } from '../proxy/peer-link.ts';
import { acquireRequest, K_CLIENT, K_REPLICA, type ClientSession, type Request } from '../proxy/request.ts';
import type { BackendServer } from '../proxy/backend.ts';
import { refreshClock } from '../proxy/clock.ts';
import { afterIo } from '../proxy/flush.ts';
import type { ClusterWorkerData, FromClusterWorker } from '../messages.ts';

const data = workerData as ClusterWorkerData;
const port = parentPort;
if (port === null) throw new Error('dynoproxy: cluster/cluster-worker.ts must run in a worker thread');

const pool: PoolConfig = data.pool;
// The cluster worker is the topology table's only writer: it publishes the configured cluster at start (and again after a
// restart, as a new version; data workers keep their links, which are keyed by node identity). Membership changes republish here.
const snapshot = topologyFromConfig(pool);
new TopologyWriter(data.topology).publish(snapshot);
const map = new ClusterView(snapshot);
const names = map.nodes.map((n) => `${n.host}:${n.peerPort}`);
const states = new PeerStates(data.peerStates);
const rings = data.rings.map((sab) => new ReplicationRing(sab));
const settings = {
  timeout: pool.timeout > 0 ? pool.timeout : 5000,
  serverConnections: 1,
  serverFailureLimit: pool.serverFailureLimit,
  serverRetryTimeout: pool.serverRetryTimeout,
  autoEjectHosts: false,
};
const maxPayload = Math.min(pool.maxRequestBytes, 0x7fffffff);
// The links' counters (requests, failures by code) live in a stats block the supervisor sums with the data workers'.
const peerSlots = new WorkerStatsView(data.statsSab, poolShapes([pool])).pools[0].peers;
const links: (BackendServer | null)[] = map.nodes.map((n) =>
  n.local
    ? null
    : newPeerLink(n, n.dc === map.localDc, settings, maxPayload, peerSlots[n.index - 1], () => pool.peerSecret, pool.name, (link) => post({ type: 'peer-link-closed', link }), pool.dataStore === 1),
);

let forwarded = 0;
let dropped = 0;

/** Hand every queued remote-DC write to its node's link; the links batch them into one write per loop turn. */
function drainRings(): void {
  refreshClock();
  for (const ring of rings) {
    ring.drain((node, buf, start, end) => {
      const link = links[node] ?? null;
      if (link === null || states.isDown(node)) {
        dropped++;
        if (link !== null) link.st[S_REPLICA_FAILURES + F_PEER_DOWN]++;
        return;
      }
      const req = acquireRequest(K_REPLICA);
      req.forwardDc = true;
      req.replicaSt = link.st;
      link.st[S.replica_writes_total]++;
      link.send(req, buf, start, end);
      forwarded++;
    });
  }
  afterIo();
}

// Wake as soon as a data worker pushes into an empty ring; a short timer bounds the batching delay otherwise.
type WaitAsync = (a: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<unknown> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
function watch(ring: ReplicationRing): void {
  if (waitAsync === undefined) return;
  const { array, index } = ring.signal;
  const r = waitAsync(array, index, Atomics.load(array, index));
  const again = (): void => {
    drainRings();
    watch(ring);
  };
  if (r.async) void (r.value as Promise<unknown>).then(again);
  else setImmediate(again);
}
for (const ring of rings) watch(ring);
setInterval(drainRings, 5).unref();

/** Failure detection: a PING (memcached: the meta no-op mn) through each node's peer port; a link error marks it down, any reply marks it up. */
const PING = pool.dataStore === 1 ? Buffer.from('mn\r\n') : Buffer.from('*1\r\n$4\r\nPING\r\n');

class Probe implements ClientSession {
  readonly node: number;
  inFlight = false;
  closed = false;
  constructor(node: number) {
    this.node = node;
  }
  replyArrived(req: Request): void {
    this.inFlight = false;
    // A failure of the link itself means the node did not answer; any reply, an error reply included, came from the node.
    const next = req.failure === F_NONE || req.failure === F_ERROR_REPLY ? PEER_UP : PEER_DOWN;
    if (states.state(this.node) !== next) post({ type: 'peer-state', node: this.node, name: names[this.node], up: next === PEER_UP });
    states.setState(this.node, next);
  }
  requestFinished(): void {}
}

const probes = map.nodes.map((n) => new Probe(n.index));

function probeAll(): void {
  const now = refreshClock();
  for (const p of probes) {
    const link = links[p.node];
    if (link === null || link === undefined || p.inFlight) continue;
    link.checkTimeouts(now);
    const req = acquireRequest(K_CLIENT);
    req.client = p;
    p.inFlight = true;
    // A link in backoff fails the probe at once (replyArrived with its failure code): the node is marked down.
    link.send(req, PING, 0, PING.length);
  }
}

const interval = Math.max(100, Math.min(pool.gossipInterval > 0 ? pool.gossipInterval : 1000, 1000));
setInterval(probeAll, interval);
setInterval(() => {
  const now = refreshClock();
  for (const l of links) l?.checkTimeouts(now);
}, 100).unref();
probeAll();

function post(m: FromClusterWorker): void {
  port?.postMessage(m);
}

port.on('message', (m: { type: string }) => {
  if (m.type === 'stats') post({ type: 'cluster-stats', forwarded, dropped: dropped + rings.reduce((s, r) => s + r.dropped, 0), queued: rings.reduce((s, r) => s + r.depth, 0) });
  if (m.type === 'stop') {
    drainRings();
    setTimeout(() => process.exit(0), 50);
  }
});
post({ type: 'cluster-ready' });
