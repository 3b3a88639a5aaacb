// Cluster worker thread: failure detection of every other node (probes.ts), membership (gossip, join, leave, cleanup), warm-up and
// repair, and batched cross-datacenter replication drained from the data workers' rings.
// Never sits on the client request path: data workers hand it remote-DC writes through bounded rings and read peer states lock-free.
import { parentPort, workerData } from 'node:worker_threads';
import { topologyFromConfig, parseSeed, readMovedTokens, writeMovedTokens, type PoolConfig } from '../config/index.ts';
import { ReplicationRing, PeerStates } from '../peer/index.ts';
import { WarmUp, type WarmUpDeps } from './warm-up.ts';
import { Membership } from './membership.ts';
import { Gossip } from './gossip.ts';
import { Join } from './join.ts';
import { Cleanup, rangesLost } from './cleanup.ts';
import { Leave } from './leave.ts';
import { Move } from './move.ts';
import { FLIP_LAG_MS } from './mirror.ts';
import { SeedSources } from './seed-source.ts';
import { Repair } from './repair.ts';
import { ClusterView, TopologyWriter, formatDynToken, NODE_STATE, hashRangesOf } from '../topology/index.ts';
import { FailureDetector, FD_DOWN, FD_UP } from './failure-detector.ts';
import { Probes } from './probes.ts';
import { RemoteWrites } from './remote-writes.ts';
import { SERVER_BLOCK_SLOTS, WorkerStatsView, poolShapes } from '../stats/index.ts';
import { newPeerLink, peerLinkTlsOf, refreshClock, afterIo } from '../io/index.ts';
import type { BackendServer } from '../io/index.ts';
import type { ClusterWorkerData, FromClusterWorker, RepairStart } from '../messages.ts';

const data = workerData as ClusterWorkerData;
const port = parentPort;
if (port === null) throw new Error('dynoproxy: cluster/cluster-worker.ts must run in a worker thread');

const pool: PoolConfig = data.pool;
// The cluster worker is the topology table's only writer: it publishes the configured cluster at start (and again after a restart,
// as a new version; data workers keep their links, which are keyed by node identity), then every membership or state change.
const configured = topologyFromConfig(pool);
const writer = new TopologyWriter(data.topology);
const cap = writer.capacity;
const membership = new Membership(configured, configured.nodes.map((n) => n.tokens.map((t) => formatDynToken(t))), Date.now(), {
  maxNodes: Math.min(pool.maxNodes, cap.maxNodes, new PeerStates(data.peerStates).nodes),
  maxTokensPerNode: 256, maxRecords: 8192, maxTotalTokens: cap.maxTokens, maxStringBytes: cap.maxStringBytes,
});
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
// The links' counters (requests, failures by code) live in a stats block the supervisor sums with the data workers'; nodes gossip
// brings in later count in blocks of their own (not in /metrics' per-peer rows, which follow dyn_seeds).
const peerSlots = new WorkerStatsView(data.statsSab, poolShapes([pool])).pools[0].peers;
/** By node index: the link to that node (null: this node, or a slot whose node was replaced); the array only grows. */
const links: (BackendServer | null)[] = [];
/** By node index: the identity its link was made for (a slot whose identity changes gets a new link). */
const linkIds: string[] = [];
const interval = Math.max(100, Math.min(pool.gossipInterval > 0 ? pool.gossipInterval : 1000, 1000));
const detector = new FailureDetector(membership.limits.maxNodes, {
  intervalMs: interval,
  threshold: pool.phiThreshold,
  acceptablePauseMs: Math.max(500, 1.4 * interval),
  minStdDevMs: 100,
  upAfter: 2,
});
// Failure detection (probes.ts): a PING through each node's peer port every interval, phi-accrual over the replies.
const probes = new Probes({
  memcache: pool.dataStore === 1, links, detector, states, peerSlots, maxNodes: membership.limits.maxNodes,
  name: (node) => map.nodes[node]?.name ?? String(node),
  post: (m) => post(m),
});
let remote: RemoteWrites | null = null;
/** By node index: until when (ms) its tokens' move settles (writes of the moved ranges go to both sides meanwhile). */
const settleUntil = new Map<number, number>();
// A node told to join listens before it says anything about itself, and routes nothing to itself until it copied its range.
if (pool.join) {
  membership.silent = true;
  membership.local.state = NODE_STATE.JOINING;
}
let map = publish();
/** Links made for one task (a mirror's feed poll): their timeouts are checked with the others' until they are closed. */
const ownLinks = new Set<BackendServer>();
function ownLink(node: number): BackendServer | null {
  const n = map.nodes[node];
  if (n === undefined) return null;
  const link = newPeerLink(n, n.dc === map.localDc, settings, maxPayload, new Float64Array(SERVER_BLOCK_SLOTS), () => pool.peerSecret, pool.name, null, pool.dataStore === 1);
  link.linkTls = peerLinkTlsOf(pool);
  ownLinks.add(link);
  const close = link.close.bind(link);
  link.close = () => {
    ownLinks.delete(link);
    close();
  };
  return link;
}
const warmDeps: WarmUpDeps = {
  pool, view: map, states, links, rtt: (n) => probes.rtts[n], ownLink,
  publish: (status) => post({ type: 'warm-up', status }),
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
};
relink();

/** After a membership or state change: a new table version, links and views follow it, states remembered for the next merge. */
function update(): void {
  map = publish();
  relink();
  rememberStates();
  checkHeld();
}

/** This node's ranges in its rack's ring at the last look, and when the keys of ranges that moved away go (0: nothing to clean). */
let heldRanges = hashRangesOf(map, map.localRack, map.localNode);
let cleanupAt = 0;
/** What a cleanup waits past handoff_grace: the flip takes a few gossip rounds to reach every node, whose settles end that much later. */
function cleanupMargin(): number {
  return 1000 + 5 * interval;
}
/**
 * A range moved away from this node (however it learned of the move): its keys go once handoff_grace is past (auto_cleanup), and a
 * few gossip rounds more: each node ends its own settle of the move handoff_grace after it saw the flip, and a node that saw it later
 * than this one still sends the range's writes here until then (a key written here behind the cleanup's SCAN would stay).
 */
function checkHeld(): void {
  const held = hashRangesOf(map, map.localRack, map.localNode);
  if (rangesLost(heldRanges, held) && membership.local.state !== NODE_STATE.LEFT) cleanupAt = Date.now() + pool.handoffGrace + cleanupMargin();
  heldRanges = held;
}

/** update(), then the data workers get the new records at once (they answer peers' gossip with them). */
function updateAndTell(): void {
  update();
  sendDigest();
}

/** Publishes membership (each node's gossiped state and settling flag) as a new table version; returns its view. */
function publish(): ClusterView {
  const now = Date.now();
  const snap = membership.snapshot((i) => (settleUntil.get(i) ?? 0) > now);
  writer.publish(snap);
  snap.version = writer.version;
  return new ClusterView(snap);
}

/**
 * After every publish: links follow the view's identities (a new node gets one, a replaced slot a new one, its old link closed and
 * its history forgotten), and the remote writes' queues and the warm-up's view follow the new version.
 */
function relink(): void {
  for (const n of map.nodes) {
    if (n.local || linkIds[n.index] === n.id) continue;
    links[n.index]?.close();
    if (linkIds[n.index] !== undefined) {
      // Requests in flight on the closed link are never answered: the probes and gossip calls waiting on them start over.
      probes.forget(n.index);
      gossip.forget(n.index);
    }
    linkIds[n.index] = n.id;
    const removed = n.tokens.length === 0;
    const st = peerSlots[n.index - 1] ?? new Float64Array(SERVER_BLOCK_SLOTS);
    const link = removed ? null : newPeerLink(n, n.dc === map.localDc, settings, maxPayload, st, () => pool.peerSecret, pool.name, (l) => post({ type: 'peer-link-closed', link: l }), pool.dataStore === 1);
    // secure_server_option: this worker's links (PINGs, gossip, remote-DC writes, copies) are mutual TLS like the data workers'.
    if (link !== null) link.linkTls = peerLinkTlsOf(pool);
    links[n.index] = link;
  }
  remote?.relink(map);
  warmDeps.view = map;
}

// Remote-DC writes: sent on the node's link, or kept as hints for it (down, frozen, "not stored") and replayed once it is back.
const remoteWrites = new RemoteWrites(pool, map, links, states, rings.length, (event) => post({ type: 'hints-event', event }), pool.enableGossip);
remote = remoteWrites;
const forward = remoteWrites.forward.bind(remoteWrites);

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

setInterval(() => probes.all(), interval);
setInterval(() => {
  const now = refreshClock();
  for (const l of links) l?.checkTimeouts(now);
  for (const l of ownLinks) l.checkTimeouts(now);
  remoteWrites.tick(now);
  afterIo();
}, 100).unref();
probes.all();

function post(m: FromClusterWorker): void {
  port?.postMessage(m);
}

const warmUp = new WarmUp(warmDeps);

// Gossip: membership spreads from any seed; every merge that changes what the table shows republishes it and relinks.
const gossipStats = { enabled: pool.enableGossip, rounds: 0, sent: 0, replies: 0, failed: 0, received: 0, refused: {} as Record<string, number>, stale: 0, nodesAdded: 0 };
/** Refusals logged per reason and address at most once per REFUSAL_LOG_MS (a flood is counted, not logged line by line). */
const refusalLogged = new Map<string, number>();
const REFUSAL_LOG_MS = 10_000;
const gossip = new Gossip({
  membership, links, seeds: pool.dynSeeds.length, memcache: pool.dataStore === 1,
  alive: (i) => detector.verdict(i) !== FD_DOWN,
  heard: (node, us, records) => {
    seenAs.set(node, us === null ? -1 : us.state);
    join?.heard(node, us, records);
    listened(us);
  },
  merged(result, from) {
    gossipStats.stale += result.stale;
    const now = Date.now();
    for (const r of result.refused) {
      gossipStats.refused[r.reason] = (gossipStats.refused[r.reason] ?? 0) + 1;
      const key = `${r.reason} ${r.address}`;
      if ((refusalLogged.get(key) ?? 0) + REFUSAL_LOG_MS > now) continue;
      if (refusalLogged.size > 1000) refusalLogged.clear();
      refusalLogged.set(key, now);
      post({ type: 'log', level: 'warn', msg: 'gossip record refused', fields: { reason: r.reason, node: r.address, detail: r.detail, from } });
    }
    if (!result.changed) return;
    gossipStats.nodesAdded += result.added.length;
    // A node that finished joining (JOINING -> serving) or leaving (-> LEFT): its moved ranges settle for handoff_grace.
    for (const mem of membership.members) {
      const was = lastStates[mem.index];
      if (was === undefined || was === mem.state) continue;
      if ((was === NODE_STATE.JOINING && mem.state !== NODE_STATE.LEFT) || mem.state === NODE_STATE.LEFT) settle(mem.index);
    }
    update();
    for (const i of result.added) {
      const n = map.nodes[i];
      post({ type: 'log', level: 'info', msg: 'node joined the view (gossip)', fields: { node: n.name, dc: map.datacenters[n.dc], rack: map.racks[n.rack].name, tokens: n.tokens, from } });
    }
    sendDigest();
    // What changed spreads at once rather than at the next round.
    if (result.added.length > 0) gossip.broadcast();
  },
});

/** Each member's state at the last merge (what a change is measured against). */
const lastStates: number[] = [];
function rememberStates(): void {
  for (const mem of membership.members) lastStates[mem.index] = mem.state;
}
rememberStates();

function settle(node: number): void {
  settleUntil.set(node, Date.now() + pool.handoffGrace);
}

/**
 * Settled moves leave the shadow rings (republished). A move that took ranges from this node ends with a cleanup (auto_cleanup) once
 * handoff_grace is past and no move is settling in its rack; one already running is followed by another (it may predate the move).
 */
setInterval(() => {
  const now = Date.now();
  let changed = false;
  for (const [node, until] of settleUntil) {
    if (until > now) continue;
    settleUntil.delete(node);
    changed = true;
  }
  if (changed) update();
  if (cleanupAt === 0 || now < cleanupAt || !pool.autoCleanup || membership.local.state === NODE_STATE.LEFT) return;
  if (cleanup.refusal() === null) {
    cleanupAt = 0;
    cleanup.start('handoff_grace past after a range moved away from this node');
  }
}, 250).unref();

const cleanup = new Cleanup(pool, () => map, (level, msg, fields) => post({ type: 'log', level, msg, fields }));
/** A join (join: true at start, or a ring move's second half); its phase shows in /info gossip.join. */
function makeJoin(): Join {
  return new Join({
    membership, view: () => map, intervalMs: interval,
    publish: updateAndTell,
    broadcast: () => gossip.broadcast(),
    peers: () => gossip.peersToTell((n) => detector.verdict(n) === FD_UP),
    isUp: (n) => detector.verdict(n) === FD_UP,
    copy: (sources, mine) => warmUp.joinCopy(sources, mine, 1),
    shadowed: pool.dataStore === 1,
    flipCopy: () => warmUp.lagMirrors(FLIP_LAG_MS),
    endCopy: () => warmUp.endMirrors(),
    hold: (moving) => warmUp.hold(moving),
    warmUp: () => warmUp.start('replace'),
    purge: (ranges) => cleanup.purge(ranges),
    settle,
    served,
    log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
  });
}
let join: Join | null = pool.join ? makeJoin() : null;

/** Writes a ring move's tokens file and tells the supervisor (a restarted cluster worker starts from the pool it holds). */
function persistTokens(tokens: readonly string[], joining: boolean): void {
  if (pool.hintsDir === null) throw new Error('no hints_dir');
  writeMovedTokens(pool.hintsDir, pool.name, { tokens: [...tokens], joining });
  pool.tokens = [...tokens];
  pool.join = joining;
  post({ type: 'tokens-moved', tokens: [...tokens], joining });
}

/** A join finished (or found this node a member): a ring move's file that still says joining says done now. */
function served(): void {
  if (pool.hintsDir === null) return;
  try {
    const moved = readMovedTokens(pool.hintsDir, pool.name);
    if (moved !== null && moved.joining) persistTokens(moved.tokens, false);
  } catch (err) {
    post({ type: 'log', level: 'warn', msg: 'ring move: cannot mark the tokens file done (a restart joins again, harmlessly)', fields: { error: err instanceof Error ? err.message : String(err) } });
  }
}

// Anti-entropy (cluster/repair.ts): POST /repair and repair_interval.
const repair = pool.dataStore === 0 ? new Repair({
  // The view membership published last (a getter: gossip replaces it).
  pool, get view() { return map; }, states, links, settings, maxPayload, publish: (status) => post({ type: 'repair', status }),
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
}) : null;
if (join !== null) void join.run();

// Seeds from dyn_seeds_file, florida_provider or dns_provider: new ones join the view as configured nodes (their gossip brings the rest).
const seedSources = new SeedSources({
  pool,
  found(seeds, from) {
    const added: number[] = [];
    for (const text of seeds) {
      let seed: ReturnType<typeof parseSeed>;
      try {
        seed = parseSeed(text);
      } catch (err) {
        post({ type: 'log', level: 'warn', msg: 'seed provider: malformed seed ignored', fields: { provider: from, seed: text.slice(0, 200), error: err instanceof Error ? err.message : String(err) } });
        continue;
      }
      if (seed.host === membership.local.host && seed.port === membership.local.peerPort) continue;
      const r = membership.addSeed({ ...seed, tokens: seed.tokens.map(String) });
      if (r.index >= 0) added.push(r.index);
      else if (r.why !== 'known') post({ type: 'log', level: 'warn', msg: 'seed provider: seed refused', fields: { provider: from, seed: text.slice(0, 200), why: r.why } });
    }
    if (added.length === 0) return;
    update();
    post({ type: 'log', level: 'info', msg: 'seeds added', fields: { provider: from, nodes: added.map((i) => map.nodes[i].name) } });
  },
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
});
seedSources.start();

/** By peer index: the state it gave this node in its last gossip reply. */
const seenAs = new Map<number, number>();
const leave = new Leave({
  pool, membership, view: () => map, links, intervalMs: interval,
  publish: updateAndTell,
  broadcast: () => gossip.broadcast(),
  peers: () => gossip.peersToTell((n) => detector.verdict(n) === FD_UP),
  seenAs: (n) => seenAs.get(n),
  isUp: (n) => detector.verdict(n) === FD_UP,
  ownLink,
  settle,
  report: (status) => post({ type: 'warm-up', status }),
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
});

// POST /ring/move: leave, wait out handoff_grace, join again with the new tokens, clean up (move.ts).
const move = new Move({
  pool, membership, view: () => map, leave, cleanup, intervalMs: interval, cleanupMarginMs: cleanupMargin(),
  persist: persistTokens,
  async rejoin(tokens) {
    // In its own table first, silent (peers still list it LEFT with its old tokens): the join purges the new range, then announces it.
    membership.silent = true;
    membership.setLocalTokens(tokens, Date.now());
    membership.local.state = NODE_STATE.JOINING;
    update();
    join?.stop();
    const j = makeJoin();
    join = j;
    return j.rejoin();
  },
  report: () => sendDigest(),
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
});

/**
 * Every other gossiping node listens before it speaks about itself too: a node its peers know as LEFT (decommissioned) stays out of
 * the ring when it is started again with its old config (join: true brings it back). The first reply decides; with no peer
 * answering within a few rounds (a first node, a cluster restarting), it speaks anyway.
 */
let listening = pool.enableGossip && !pool.join;
if (listening) {
  membership.silent = true;
  setTimeout(() => listened(undefined), Math.max(2000, 10 * interval)).unref();
}
function listened(us: { state: number; tokens: string[] } | null | undefined): void {
  if (!listening) return;
  listening = false;
  membership.silent = false;
  if (us != null && us.state === NODE_STATE.LEFT) {
    membership.setLocalState(NODE_STATE.LEFT, Date.now());
    update();
    post({ type: 'log', level: 'warn', msg: 'this node left the ring earlier (its peers list it LEFT): it stays out; start it with join: true to bring it back', fields: {} });
  }
  sendDigest();
  gossip.broadcast();
}

function sendDigest(): void {
  post({ type: 'gossip-digest', payload: gossip.payload() });
  post({
    type: 'gossip-stats',
    stats: {
      ...gossipStats, ...gossip.counters, refused: { ...gossipStats.refused }, version: membership.local.version, join: join?.phase ?? 'none', cleanup: { ...cleanup.status },
      move: { ...move.status },
    },
  });
}

if (pool.enableGossip) {
  setInterval(() => {
    gossip.round(Date.now());
    sendDigest();
  }, interval).unref();
  // A node that starts gossips at once: its seeds learn it within a round trip.
  setImmediate(() => {
    gossip.round(Date.now());
    sendDigest();
  });
}

port.on('message', (m: { type: string; payload?: Uint8Array; from?: string; dynomite?: boolean }) => {
  if (m.type === 'gossip-in' && m.payload !== undefined) {
    // A Dynomite node's GOSSIP_SYN is parsed and counted, never merged: its records carry no port and its gossip is unreliable.
    if (m.dynomite === true || !pool.enableGossip) return;
    gossip.receive(m.payload, m.from ?? '?');
    return;
  }
  if (m.type === 'leave-start') {
    const a = leave.start();
    post({ type: 'leave-answer', status: a.status, message: a.message });
  }
  if (m.type === 'move-start') {
    const tokens = (m as unknown as { tokens?: unknown }).tokens;
    const a = Array.isArray(tokens) && tokens.every((x) => typeof x === 'string') ? move.start(tokens as string[]) : { status: 400, message: 'no tokens' };
    post({ type: 'move-answer', status: a.status, message: a.message });
  }
  if (m.type === 'cleanup-start') {
    const a = cleanup.start('POST /cleanup');
    post({ type: 'cleanup-answer', status: a.status, message: a.message });
  }
  if (m.type === 'repair-start') {
    const a = repair?.start((m as unknown as RepairStart).range, 'admin') ?? { status: 400, message: 'repair compares redis datastores only (memcached: not yet)' };
    post({ type: 'repair-answer', status: a.status, message: a.message });
  }
  if (m.type === 'warm-up-start') {
    const a = warmUp.start();
    post({ type: 'warm-up-answer', status: a.status, message: a.message });
  }
  if (m.type === 'stats') {
    post({ type: 'cluster-stats', forwarded: remoteWrites.forwarded, dropped: remoteWrites.dropped + rings.reduce((s, r) => s + r.dropped, 0), queued: rings.reduce((s, r) => s + r.depth, 0) });
  }
  if (m.type === 'stop') {
    join?.stop();
    move.stop();
    seedSources.stop();
    leave.stop();
    cleanup.stop();
    warmUp.stop();
    repair?.stop();
    drainRings();
    remoteWrites.hints?.persistence?.flush();
    setTimeout(() => process.exit(0), 50);
  }
});
sendDigest();
post({ type: 'cluster-ready' });
