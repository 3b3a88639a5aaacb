// Cluster worker thread: failure detection of every other node, and batched cross-datacenter replication drained from the data workers' rings.
// Never sits on the client request path: data workers hand it remote-DC writes through bounded rings and read peer states lock-free.
import { parentPort, workerData } from 'node:worker_threads';
import { topologyFromConfig, type PoolConfig } from '../config/index.ts';
import { ReplicationRing, PeerStates, PEER_DOWN, PEER_WARMING } from '../peer/index.ts';
import { WarmUp } from './warm-up.ts';
import { ClusterView, TopologyWriter, NODE_STATE } from '../topology/index.ts';
import { FailureDetector, FD_DOWN, FD_UP, FD_UNKNOWN, FD_DATASTORE_DOWN } from './failure-detector.ts';
import { RemoteWrites } from './remote-writes.ts';
import { F_NONE, F_TIMEOUT } from '../protocol/failure/index.ts';
import { S_PEER, WorkerStatsView, poolShapes } from '../stats/index.ts';
import { newPeerLink, peerLinkTlsOf, acquireRequest, K_CLIENT, type ClientSession, type Request, refreshClock, afterIo } from '../io/index.ts';
import type { BackendServer } from '../io/index.ts';
import type { ClusterWorkerData, FromClusterWorker } from '../messages.ts';

const data = workerData as ClusterWorkerData;
const port = parentPort;
if (port === null) throw new Error('dynoproxy: cluster/cluster-worker.ts must run in a worker thread');

const pool: PoolConfig = data.pool;
// The cluster worker is the topology table's only writer: it publishes the configured cluster at start (and again after a
// restart, as a new version; data workers keep their links, which are keyed by node identity). Membership changes republish here.
const snapshot = topologyFromConfig(pool);
const writer = new TopologyWriter(data.topology);
writer.publish(snapshot);
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
// secure_server_option: this worker's links (PINGs, remote-DC writes) are mutual TLS like the data workers'.
for (const l of links) if (l !== null) l.linkTls = peerLinkTlsOf(pool);

// Remote-DC writes: sent on the node's link, or kept as hints for it (down, frozen, "not stored") and replayed once it is back.
const remote = new RemoteWrites(pool, map, links, states, rings.length, (event) => post({ type: 'hints-event', event }));
const forward = remote.forward.bind(remote);

/** Hand every queued remote-DC write to its node's link; the links batch them into one write per loop turn. */
function drainRings(): void {
  refreshClock();
  for (const ring of rings) ring.drain(forward);
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

/**
 * Failure detection: a PING through each node's peer port every interval (its datastore answers it, so a node whose
 * datastore is down says so); phi-accrual suspicion over the replies marks a silent (frozen) node down, a failed link
 * marks a dead one down at once, and a down node must answer twice in a row to be up again.
 */
// A memcached node answers the meta no-op mn itself, so only RESP nodes report their datastore's state this way.
const PING = pool.dataStore === 1 ? Buffer.from('mn\r\n') : Buffer.from('*1\r\n$4\r\nPING\r\n');
const STORAGE_DOWN = Buffer.from('-ERR Storage:');
const interval = Math.max(100, Math.min(pool.gossipInterval > 0 ? pool.gossipInterval : 1000, 1000));
const detector = new FailureDetector(map.nodes.length, {
  intervalMs: interval,
  threshold: pool.phiThreshold,
  acceptablePauseMs: Math.max(500, 1.4 * interval),
  minStdDevMs: 100,
  upAfter: 2,
});

function isStorageDown(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < STORAGE_DOWN.length) return false;
  for (let i = 0; i < STORAGE_DOWN.length; i++) if (buf[start + i] !== STORAGE_DOWN[i]) return false;
  return true;
}

/** Publish a verdict: the peer-state word the data workers read, the gauges, the log line, and the node's state in the topology table. */
function publishVerdict(node: number, detected: number): void {
  // A node that answers its PING with +WARMING is up, its reads served elsewhere (PEER_WARMING) until it answers PONG again.
  const verdict = detected === FD_UP && warmingSeen[node] === 1 ? PEER_WARMING : detected;
  const before = states.state(node);
  if (before === verdict) return;
  states.setState(node, verdict);
  const st = peerSlots[node - 1];
  if (st !== undefined) {
    st[S_PEER.peer_up] = verdict === FD_DOWN ? 0 : 1;
    st[S_PEER.peer_datastore_up] = verdict === FD_UP || verdict === PEER_WARMING ? 1 : 0;
  }
  if ((before === PEER_DOWN) !== (verdict === FD_DOWN) || before === 0) post({ type: 'peer-state', node, name: names[node], up: verdict !== FD_DOWN });
  if (verdict === FD_DATASTORE_DOWN || (before === FD_DATASTORE_DOWN && verdict !== FD_DOWN)) post({ type: 'peer-datastore', node, name: names[node], up: verdict === FD_UP });
  snapshot.nodes[node].state = verdict === FD_DOWN ? NODE_STATE.DOWN : NODE_STATE.NORMAL;
  writer.publish(snapshot);
}

const WARMING = Buffer.from('+WARMING\r\n');
/** By node: its last PING answer was +WARMING (it is warming up: peer-client.ts). */
const warmingSeen = new Uint8Array(map.nodes.length);
/** By node: smoothed PING round trip, ms (Infinity until measured): the load signal warm-up picks its source rack by. */
const rtts = new Float64Array(map.nodes.length).fill(Infinity);

function isWarming(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== WARMING.length) return false;
  for (let i = 0; i < WARMING.length; i++) if (buf[start + i] !== WARMING[i]) return false;
  return true;
}

class Probe implements ClientSession {
  readonly node: number;
  sentAt = 0;
  inFlight = false;
  closed = false;
  constructor(node: number) {
    this.node = node;
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    this.inFlight = false;
    const now = refreshClock();
    const f = req.failure;
    // A reply (an error reply included) came from the node; a timeout is left to phi (unless the node never answered); a failed link is a dead node.
    if (f === F_NONE) {
      const rtt = now - this.sentAt;
      rtts[this.node] = rtts[this.node] === Infinity ? rtt : 0.8 * rtts[this.node] + 0.2 * rtt;
      warmingSeen[this.node] = isWarming(buf, start, end) ? 1 : 0;
      publishVerdict(this.node, detector.heartbeat(this.node, now, !isStorageDown(buf, start, end)));
    }
    else if (f !== F_TIMEOUT || detector.verdict(this.node) === FD_UNKNOWN) publishVerdict(this.node, detector.linkFailed(this.node));
  }
  requestFinished(): void {}
}

const probes = map.nodes.map((n) => new Probe(n.index));

function probeAll(): void {
  const now = refreshClock();
  for (const p of probes) {
    const link = links[p.node];
    if (link === null || link === undefined) continue;
    link.checkTimeouts(now);
    publishVerdict(p.node, detector.check(p.node, now));
    if (p.inFlight) continue;
    const req = acquireRequest(K_CLIENT);
    req.client = p;
    p.inFlight = true;
    p.sentAt = now;
    // A link in backoff fails the probe at once (replyArrived with its failure code).
    link.send(req, PING, 0, PING.length);
  }
}

setInterval(probeAll, interval);
setInterval(() => {
  const now = refreshClock();
  for (const l of links) l?.checkTimeouts(now);
  remote.tick(now);
  afterIo();
}, 100).unref();
probeAll();

function post(m: FromClusterWorker): void {
  port?.postMessage(m);
}

const warmUp = pool.dataStore === 0 ? new WarmUp({
  pool, view: map, states, links, rtt: (n) => rtts[n],
  publish: (status) => post({ type: 'warm-up', status }),
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
}) : null;

port.on('message', (m: { type: string }) => {
  if (m.type === 'warm-up-start') {
    const a = warmUp?.start() ?? { status: 400, message: 'warm-up copies redis datastores only (memcached: not yet)' };
    post({ type: 'warm-up-answer', status: a.status, message: a.message });
  }
  if (m.type === 'stats') post({ type: 'cluster-stats', forwarded: remote.forwarded, dropped: remote.dropped + rings.reduce((s, r) => s + r.dropped, 0), queued: rings.reduce((s, r) => s + r.depth, 0) });
  if (m.type === 'stop') {
    warmUp?.stop();
    drainRings();
    remote.hints?.persistence?.flush();
    setTimeout(() => process.exit(0), 50);
  }
});
post({ type: 'cluster-ready' });
