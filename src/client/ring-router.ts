// RingRouter: where a key lives, for the client: the server's own KeyHasher and TokenRing per rack, walked in the client's rack preference.
// Pure and synchronous: no I/O, no allocation per key (string keys are encoded into one scratch buffer), never picks by health.
import { KeyHasher, TokenRing } from '../topology/index.ts';
import { DynoError } from './dyno-error.ts';
import type { ClientNode, ClientTopology } from './topology-source.ts';

/**
 * Which replica is preferred: 'rack' the owner in the client's own rack, then the other racks of its datacenter, then remote
 * datacenters; 'dc' spreads first choices over every rack of the local datacenter (by token range); 'any' over every rack.
 */
export type Affinity = 'rack' | 'dc' | 'any';

/** replica(): the rack has several nodes and no token, so it cannot place the key. */
export const UNPLACEABLE = -2;

export interface RackInfo {
  readonly dc: string;
  readonly name: string;
  readonly nodes: readonly number[];
}

export class RingRouter {
  readonly topology: ClientTopology;
  readonly nodes: readonly ClientNode[];
  readonly racks: readonly RackInfo[];
  /** Rack indexes in preference order. */
  readonly order: Int32Array;
  /** How many racks at the head of `order` take turns being first (1 for 'rack' affinity). */
  private readonly rotating: number;
  private readonly rings: readonly TokenRing[];
  /** Per rack: its node when it has exactly one (it owns every key even without tokens), else -1. */
  private readonly sole: Int32Array;
  private readonly hasher: KeyHasher;
  private scratch = Buffer.allocUnsafe(256);

  constructor(topology: ClientTopology, where: { dc?: string; rack?: string; affinity: Affinity }) {
    this.topology = topology;
    this.nodes = topology.nodes;
    this.hasher = new KeyHasher(topology.hash, topology.hashTag);
    const racks: { dc: string; name: string; nodes: number[] }[] = [];
    topology.nodes.forEach((n, i) => {
      let r = racks.find((x) => x.dc === n.dc && x.name === n.rack);
      if (r === undefined) racks.push((r = { dc: n.dc, name: n.rack, nodes: [] }));
      r.nodes.push(i);
    });
    this.racks = racks;
    this.rings = racks.map((r) => {
      const tokens = [];
      const owners = [];
      for (const ni of r.nodes) for (const t of topology.nodes[ni].tokens) { tokens.push(t); owners.push(ni); }
      return new TokenRing(tokens, owners);
    });
    this.sole = Int32Array.from(racks, (r) => (r.nodes.length === 1 ? r.nodes[0] : -1));
    const local = localRackOf(racks, where.dc, where.rack);
    const dc = racks[local].dc;
    const inDc = racks.map((_, i) => i).filter((i) => racks[i].dc === dc && i !== local);
    // Remote datacenters: per datacenter, the rack named like ours first (where Dynomite sends our writes), then the others.
    const remoteDcs = [...new Set(racks.filter((r) => r.dc !== dc).map((r) => r.dc))];
    const remote = remoteDcs.flatMap((d) => {
      const rs = racks.map((_, i) => i).filter((i) => racks[i].dc === d);
      return [...rs.filter((i) => racks[i].name === racks[local].name), ...rs.filter((i) => racks[i].name !== racks[local].name)];
    });
    this.order = Int32Array.from([local, ...inDc, ...remote]);
    this.rotating = where.affinity === 'rack' ? 1 : where.affinity === 'dc' ? 1 + inDc.length : racks.length;
  }

  /** The rack the client calls its own. */
  get localRack(): number {
    return this.order[0];
  }

  /** Replicas per key at most: one per rack. */
  get replicaCount(): number {
    return this.order.length;
  }

  hashKey(key: string | Buffer | Uint8Array): number {
    if (typeof key !== 'string') return this.hasher.keyHash(key, 0, key.length);
    if (key.length * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(key.length * 3, this.scratch.length * 2));
    const n = this.scratch.write(key, 0, 'utf8');
    return this.hasher.keyHash(this.scratch, 0, n);
  }

  /** The rack of the n-th replica (0 = preferred) of a hash. */
  rackOf(hash: number, n: number): number {
    const rot = this.rotating;
    if (n >= rot) return this.order[n];
    return this.order[rot === 1 ? 0 : ((hash % rot) + n) % rot];
  }

  /** The node holding the n-th replica of a hash, UNPLACEABLE when that rack cannot place it, -1 past the last replica. */
  replica(hash: number, n: number): number {
    if (n >= this.order.length) return -1;
    const r = this.rackOf(hash, n);
    const ring = this.rings[r];
    if (ring.size > 0) return ring.lookup(hash);
    return this.sole[r] >= 0 ? this.sole[r] : UNPLACEABLE;
  }

  /** The owner in a given rack, or UNPLACEABLE. */
  ownerInRack(rack: number, hash: number): number {
    const ring = this.rings[rack];
    if (ring.size > 0) return ring.lookup(hash);
    return this.sole[rack] >= 0 ? this.sole[rack] : UNPLACEABLE;
  }
}

function localRackOf(racks: readonly RackInfo[], dc: string | undefined, rack: string | undefined): number {
  if (dc === undefined && rack === undefined) return 0;
  const i = racks.findIndex((r) => (dc === undefined || r.dc === dc) && (rack === undefined || r.name === rack));
  if (i >= 0) return i;
  const known = racks.map((r) => `${r.dc}/${r.name}`).join(', ');
  throw new DynoError('NO_NODE_IN_RACK', `no node in ${dc ?? '*'}/${rack ?? '*'} (the topology has ${known})`);
}
