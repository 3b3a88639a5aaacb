// Cluster worker thread: failure detection of every other node, and batched cross-datacenter replication drained from the data workers' rings.
// Never sits on the client request path: data workers hand it remote-DC writes through bounded rings and read peer states lock-free.
import { parentPort, workerData } from 'node:worker_threads';
import type { PoolConfig } from '../config/index.ts';
import { ReplicationRing, PeerStates, PEER_UP, PEER_DOWN } from '../peer/index.ts';
import { ClusterMap } from '../proxy/cluster-map.ts';
import { newPeerLink } from '../proxy/peer-link.ts';
import { acquireRequest, K_CLIENT, K_INTERNAL_DISCARD, type ClientSession, type Request } from '../proxy/request.ts';
import type { BackendServer } from '../proxy/backend.ts';
import { refreshClock } from '../proxy/clock.ts';
import { afterIo } from '../proxy/flush.ts';
import type { ClusterWorkerData, FromClusterWorker } from '../messages.ts';

const data = workerData as ClusterWorkerData;
const port = parentPort;
if (port === null) throw new Error('dynoproxy: cluster/cluster-worker.ts must run in a worker thread');

const pool: PoolConfig = data.pool;
const map = new ClusterMap(pool);
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
const links: (BackendServer | null)[] = map.nodes.map((n) =>
  n.local ? null : newPeerLink(n, n.dc === map.localDc, settings, maxPayload, new Float64Array(16), () => pool.peerSecret, pool.name, (link) => post({ type: 'peer-link-closed', link })),
);

let forwarded = 0;
let dropped = 0;

/** Hand every queued remote-DC write to its node's link; the links batch them into one write per loop turn. */
function drainRings(): void {
  const now = refreshClock();
  for (const ring of rings) {
    ring.drain((node, buf, start, end) => {
      const link = links[node] ?? null;
      const conn = link === null || states.isDown(node) ? null : link.pick(now);
      if (conn === null) {
        dropped++;
        return;
      }
      const req = acquireRequest(K_INTERNAL_DISCARD);
      req.forwardDc = true;
      conn.send(req, buf, start, end);
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

/** Failure detection: a PING through each node's peer port; a link error marks it down, any reply marks it up. */
const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');

class Probe implements ClientSession {
  readonly node: number;
  inFlight = false;
  closed = false;
  constructor(node: number) {
    this.node = node;
  }
  replyArrived(_req: Request, buf: Uint8Array, start: number, end: number): void {
    this.inFlight = false;
    // The link's own failure text means the node did not answer; anything else came from the node.
    const text = Buffer.from(buf.subarray(start, Math.min(end, start + 12))).toString('latin1');
    const next = text.startsWith('-ERR Peer:') ? PEER_DOWN : PEER_UP;
    if (states.state(this.node) !== next) post({ type: 'peer-state', node: this.node, name: map.nodes[this.node].name, up: next === PEER_UP });
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
    const conn = link.pick(now);
    if (conn === null) {
      if (states.state(p.node) !== PEER_DOWN) post({ type: 'peer-state', node: p.node, name: map.nodes[p.node].name, up: false });
      states.setState(p.node, PEER_DOWN);
      continue;
    }
    const req = acquireRequest(K_CLIENT);
    req.client = p;
    p.inFlight = true;
    conn.send(req, PING, 0, PING.length);
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
