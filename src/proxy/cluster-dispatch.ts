// Cluster routing (Dynomite's model): a key's owner in every rack; reads from the local rack's owner (or a quorum of local racks),
// writes to the owner in every local rack and handed to one rack of each remote datacenter. Never blocks on replicas at DC_ONE.
import { isWrite, type CommandSpec } from '../commands/index.ts';
import { acquireRequest, completeLocally, newComposite, newPart, K_CLIENT, K_INTERNAL_DISCARD, type Request, type Merge } from './request.ts';
import type { BackendServer } from './backend.ts';
import { monotonicMs } from './clock.ts';
import { scratch, encodeKeyPiece, type Args } from './scratch.ts';
import { ConcatMerge, SumMerge, AllOkMerge, QuorumMerge, EachDcQuorumMerge } from './merge.ts';
import { errReply, storageErrorReply } from './resp-replies.ts';
import { P } from '../stats/metrics.ts';
import type { ClusterMap } from './cluster-map.ts';
import type { RespClient } from './resp-client.ts';
import type { Consistency } from '../config/index.ts';
import type { PeerStates, ReplicationRing } from '../peer/index.ts';

const PEER_DOWN = errReply('ERR Peer: Peer Node is not connected');

/** A cluster node's routing state inside one worker: the map and one link per other node. */
export interface ClusterRuntime {
  readonly map: ClusterMap;
  /** Indexed by node: the link to that node, or null for this node (its own datastore). */
  readonly peers: readonly (BackendServer | null)[];
  /** Where a key lives on this node (its datastore servers). */
  localServerFor(buf: Uint8Array, start: number, end: number): BackendServer | null;
  readConsistency(): Consistency;
  writeConsistency(): Consistency;
  /** Writes for other racks or datacenters that could not be handed on (link down), for stats. */
  readonly st: Float64Array;
  /** Liveness from the cluster worker's failure detector (and operator overrides); null without a cluster worker. */
  readonly states: PeerStates | null;
  /** Remote-DC writes go through the cluster worker, which batches them per remote node; null: sent directly. */
  readonly ring: ReplicationRing | null;
  /** Keeps what a Dynomite peer cannot parse from being sent (dynomite-gate.ts); null when no node runs Dynomite. */
  dynomite: DynomiteCheck | null;
}

/** What routing asks of the Dynomite gate (dynomite-gate.ts implements it). */
export interface DynomiteCheck {
  /** -1: route on as is; else the request was answered or routed in a rewritten form (1), or its keys cannot be served together (0). */
  admit(c: RespClient, spec: CommandSpec, a: Args, n: number, splittable: boolean): number;
  /** True when a broadcast was refused (and answered) because a Dynomite peer cannot parse it. */
  refusesBroadcast(c: RespClient, spec: CommandSpec, a: Args): boolean;
  /** The peer server's fan-out of a forwarded write: false when it fits Dynomite as is, else done (rewritten or skipping Dynomite owners). */
  fanOutForwarded(spec: CommandSpec, a: Args, n: number, racks: readonly number[], bytes: Uint8Array, start: number, end: number): boolean;
}


function target(cl: ClusterRuntime, node: number, a: Args, key: number): BackendServer | null {
  const peer = cl.peers[node];
  if (peer !== null) return cl.states !== null && cl.states.isDown(node) ? null : peer;
  return cl.localServerFor(a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key]);
}

/** Hash every key once into scratch.owner's companion array. */
function hashKeys(map: ClusterMap, a: Args, n: number): Float64Array {
  if (hashes.length < n) hashes = new Float64Array(Math.max(n, hashes.length * 2));
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) hashes[i] = map.keyHash(a.argBuf, a.argOff[k[i]], a.argOff[k[i]] + a.argLen[k[i]]);
  return hashes;
}
let hashes = new Float64Array(1024);

/** Whether every key has one owner in each of the racks. */
function colocated(map: ClusterMap, racks: readonly number[], h: Float64Array, n: number): boolean {
  for (const r of racks) {
    const o = map.ownerInRack(r, h[0]);
    for (let i = 1; i < n; i++) if (map.ownerInRack(r, h[i]) !== o) return false;
  }
  return true;
}

/** A write for another datacenter: queued for the cluster worker (batched per remote node), or sent directly without one. */
function toRemoteDc(cl: ClusterRuntime, node: number, a: Args, key: number, bytes: Uint8Array, start: number, end: number): void {
  if (cl.ring !== null) {
    if (cl.ring.push(node, bytes, start, end)) cl.st[P.remote_dc_writes_total]++;
    else cl.st[P.replica_writes_dropped_total]++;
    return;
  }
  fireAndForget(cl, target(cl, node, a, key), bytes, start, end, true);
}

/** Send a request nobody waits for (a replica write); counted when the link is down. */
function fireAndForget(cl: ClusterRuntime, server: BackendServer | null, bytes: Uint8Array, start: number, end: number, forwardDc: boolean): void {
  const conn = server === null ? null : server.pick(monotonicMs());
  if (conn === null) {
    cl.st[P.replica_writes_dropped_total]++;
    return;
  }
  const req = acquireRequest(K_INTERNAL_DISCARD);
  req.forwardDc = forwardDc;
  conn.send(req, bytes, start, end);
}

/**
 * Route a keyed request in cluster mode. `bytes[start,end)` is the request as RESP; its keys are scratch.keyIdx[0..n).
 * Returns false when the keys cannot be served together (the caller answers with the same-node error).
 */
export function clusterRoute(c: RespClient, cl: ClusterRuntime, spec: CommandSpec, a: Args, n: number, bytes: Uint8Array, start: number, end: number, splittable: boolean): boolean {
  const gate = cl.dynomite === null ? -1 : cl.dynomite.admit(c, spec, a, n, splittable);
  if (gate >= 0) return gate === 1;
  const map = cl.map;
  const write = isWrite(spec);
  if (n === 0) {
    // Keyless (EVAL with no keys ...): this node's datastore.
    const s = cl.localServerFor(a.argBuf, 0, 0);
    single(c, s, bytes, start, end);
    return true;
  }
  const h = hashKeys(map, a, n);
  const racks = write ? map.writeRacks : map.localRacks;
  if (colocated(map, racks, h, n)) {
    const level = c.consistency ?? (write ? cl.writeConsistency() : cl.readConsistency());
    const key = scratch.keyIdx[0];
    const local = map.localRacks;
    if (level === 'DC_EACH_SAFE_QUORUM' && map.racksPerDc.length > 1) {
      // Every rack of every datacenter answers this request itself: nothing is left to replicate.
      eachDcQuorum(c, cl, a, key, h[0], bytes, start, end);
      return true;
    }
    if (level === 'DC_ONE' || local.length === 1) {
      single(c, target(cl, map.ownerInRack(local[0], h[0]), a, key), bytes, start, end);
    } else {
      quorum(c, cl, a, key, h[0], level !== 'DC_QUORUM', bytes, start, end);
    }
    if (write) {
      const from = level === 'DC_ONE' || local.length === 1 ? 1 : local.length;
      for (let i = from; i < local.length; i++) fireAndForget(cl, target(cl, map.ownerInRack(local[i], h[0]), a, key), bytes, start, end, false);
      for (const r of map.remoteDcRacks) toRemoteDc(cl, map.ownerInRack(r, h[0]), a, key, bytes, start, end);
    }
    return true;
  }
  if (!splittable) return false;
  splitAcrossNodes(c, cl, spec, a, n, h, write);
  return true;
}

function single(c: RespClient, server: BackendServer | null, bytes: Uint8Array, start: number, end: number): void {
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  c.enqueue(req);
  if (server === null) return completeLocally(req, PEER_DOWN);
  const conn = server.pick(monotonicMs());
  if (conn === null) return completeLocally(req, linkError(server));
  conn.send(req, bytes, start, end);
}

function linkError(server: BackendServer): Uint8Array {
  return server.hooks.writeHeader !== undefined ? errReply(`ERR Peer: ${server.lastError || 'Peer Node is not connected'}`) : storageErrorReply(server.lastError);
}

function quorum(c: RespClient, cl: ClusterRuntime, a: Args, key: number, hash: number, safe: boolean, bytes: Uint8Array, start: number, end: number): void {
  const local = cl.map.localRacks;
  const parent = composite(c, new QuorumMerge(local.length, safe), local.length);
  const now = monotonicMs();
  for (let i = 0; i < local.length; i++) {
    const child = newPart(parent, i);
    const server = target(cl, cl.map.ownerInRack(local[i], hash), a, key);
    const conn = server === null ? null : server.pick(now);
    if (conn === null) completeLocally(child, server === null ? PEER_DOWN : linkError(server));
    else conn.send(child, bytes, start, end);
  }
}

function eachDcQuorum(c: RespClient, cl: ClusterRuntime, a: Args, key: number, hash: number, bytes: Uint8Array, start: number, end: number): void {
  const map = cl.map;
  const racks = map.allRacksByDc;
  const parent = composite(c, new EachDcQuorumMerge(map.dcOfRack, map.racksPerDc), racks.length);
  const now = monotonicMs();
  for (let i = 0; i < racks.length; i++) {
    const child = newPart(parent, i);
    const server = target(cl, map.ownerInRack(racks[i], hash), a, key);
    const conn = server === null ? null : server.pick(now);
    if (conn === null) completeLocally(child, server === null ? PEER_DOWN : linkError(server));
    else conn.send(child, bytes, start, end);
  }
}

function composite(c: RespClient, merge: Merge, pieces: number): Request {
  return newComposite(c, merge, pieces, -1, monotonicMs());
}

/** MGET/DEL/MSET... over keys owned by several nodes: one piece per owner in the local rack; writes also go, regrouped, to every other rack. */
function splitAcrossNodes(c: RespClient, cl: ClusterRuntime, spec: CommandSpec, a: Args, n: number, h: Float64Array, write: boolean): void {
  const map = cl.map;
  const pairs = spec.route === 'split-pairs';
  const owner = scratch.owner;
  const local = map.localRacks[0];
  for (let i = 0; i < n; i++) owner[i] = map.ownerInRack(local, h[i]);
  const nodes = distinct(owner, n);
  let merge: Merge;
  if (spec.route === 'split-concat') {
    const m = new ConcatMerge(nodes.length, n);
    for (let i = 0; i < n; i++) m.keyPart[i] = nodes.indexOf(owner[i]);
    merge = m;
  } else merge = pairs ? new AllOkMerge() : new SumMerge();
  c.pool.st[P.requests_split_total]++;
  const parent = composite(c, merge, nodes.length);
  const now = monotonicMs();
  nodes.forEach((node, piece) => {
    const child = newPart(parent, piece);
    encodeKeyPiece(a, n, owner, node, pairs);
    const server = target(cl, node, a, firstKeyOf(owner, n, node));
    const conn = server === null ? null : server.pick(now);
    if (conn === null) completeLocally(child, server === null ? PEER_DOWN : linkError(server));
    else conn.send(child, scratch.enc, 0, scratch.encLen);
  });
  if (write) replicatePieces(cl, a, n, h, pairs, map.localRacks.slice(1), map.remoteDcRacks);
}

/** A write split per owner, for racks nobody waits on (other local racks, and one rack per remote datacenter). */
export function replicatePieces(cl: ClusterRuntime, a: Args, n: number, h: Float64Array, pairs: boolean, racks: readonly number[], remoteRacks: readonly number[]): void {
  const owner = scratch.owner;
  const all = [...racks.map((r) => [r, 0] as const), ...remoteRacks.map((r) => [r, 1] as const)];
  for (const [rack, remote] of all) {
    for (let i = 0; i < n; i++) owner[i] = cl.map.ownerInRack(rack, h[i]);
    for (const node of distinct(owner, n)) {
      encodeKeyPiece(a, n, owner, node, pairs);
      const key = firstKeyOf(owner, n, node);
      if (remote === 1) toRemoteDc(cl, node, a, key, scratch.enc, 0, scratch.encLen);
      else fireAndForget(cl, target(cl, node, a, key), scratch.enc, 0, scratch.encLen, false);
    }
  }
}

function distinct(owner: Int32Array, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (!out.includes(owner[i])) out.push(owner[i]);
  return out;
}

function firstKeyOf(owner: Int32Array, n: number, node: number): number {
  for (let i = 0; i < n; i++) if (owner[i] === node) return scratch.keyIdx[i];
  return scratch.keyIdx[0];
}


export { hashKeys };

/** A replica write to one node of this datacenter (a peer fanning out what another datacenter forwarded). */
export function fireAndForgetTo(cl: ClusterRuntime, node: number, a: Args, key: number, bytes: Uint8Array, start: number, end: number): void {
  fireAndForget(cl, target(cl, node, a, key), bytes, start, end, false);
}

/** SCRIPT LOAD / SCRIPT FLUSH ...: every other node gets it too (scripts must exist wherever EVALSHA lands). */
export function broadcastToPeers(cl: ClusterRuntime, bytes: Uint8Array, start: number, end: number): void {
  for (const peer of cl.peers) {
    if (peer === null || (cl.states !== null && cl.states.isDown(peer.index))) continue;
    fireAndForget(cl, peer, bytes, start, end, false);
  }
}
