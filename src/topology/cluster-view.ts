// ClusterView: one decoded version of the topology table (datacenters > racks > nodes, a token ring per rack) and replicasFor(),
// the one walk over a key's owners that routing, replication, quorum and the peer server share. Pure: no I/O, no allocation per lookup.
import { TokenRing } from './token-ring.ts';
import { formatDynToken } from './dyn-token.ts';
import { NODE_STATE, type TopologySnapshot } from './topology-table.ts';

/** The owner in this node's rack only. */
export const SCOPE_LOCAL_RACK = 0;
/** The owners in every rack of this datacenter, this node's rack first. */
export const SCOPE_LOCAL_DC = 1;
/** SCOPE_LOCAL_DC, then for each other datacenter its preferred rack's owner followed by its other racks' owners as fallbacks. */
export const SCOPE_ALL = 2;

/** Where a replica sits relative to this node (ReplicaSet.tier). */
export const TIER_LOCAL_RACK = 0;
export const TIER_LOCAL_DC = 1;
/** The preferred rack of a remote datacenter: the one that receives our writes for that datacenter. */
export const TIER_REMOTE = 2;
/** Another rack of the same remote datacenter, to be used only when the ones before it in that datacenter cannot take the write. */
export const TIER_REMOTE_FALLBACK = 3;
/**
 * The owner on the other side of a token move in some rack (a joining node, the old owner of a node that just joined, the successor
 * of a leaving node, a node that just left): it gets every write too, and answers nobody (ViewRack.shadow).
 */
export const TIER_SHADOW = 4;

/** Whether a node of this state (and flag) is in its rack's routing ring: every state but joining and left. */
function inRing(state: number): boolean {
  return state !== NODE_STATE.JOINING && state !== NODE_STATE.LEFT;
}

/** Whether it is in the ring as it will be (joining) or was (settling) on the other side of a move. */
function inShadow(state: number, settling: boolean): boolean {
  if (state === NODE_STATE.JOINING) return true;
  if (state === NODE_STATE.LEFT) return settling;
  if (state === NODE_STATE.LEAVING) return false;
  return !settling;
}

/** replicasFor's output: parallel typed arrays, reused by the caller (one per worker), never reallocated on the request path. */
export class ReplicaSet {
  count = 0;
  node: Int32Array;
  rack: Int32Array;
  /** Datacenter group: 0 is this node's datacenter, 1.. the others in ClusterView.remoteDcs order. */
  group: Int32Array;
  tier: Uint8Array;

  constructor(capacity = 16) {
    this.node = new Int32Array(capacity);
    this.rack = new Int32Array(capacity);
    this.group = new Int32Array(capacity);
    this.tier = new Uint8Array(capacity);
  }

  ensure(capacity: number): void {
    if (this.node.length >= capacity) return;
    this.node = new Int32Array(capacity);
    this.rack = new Int32Array(capacity);
    this.group = new Int32Array(capacity);
    this.tier = new Uint8Array(capacity);
  }
}

export interface ViewNode {
  readonly index: number;
  /** Identity across versions: datacenter, rack, address and first token. Links and hints are keyed by it, never by index. */
  readonly id: string;
  /** host:peerPort, as logs and /metrics name it. */
  readonly name: string;
  /** What the node runs: a Dynomite node gets only what its parser accepts, and no authentication exchange. */
  readonly compat: 'dynoproxy' | 'dynomite';
  readonly host: string;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly rack: number;
  readonly dc: number;
  /** A NODE_STATE value. */
  readonly state: number;
  readonly local: boolean;
  readonly tokens: readonly string[];
}

export interface ViewRack {
  readonly index: number;
  readonly name: string;
  readonly dc: number;
  readonly nodes: readonly number[];
  /** Where requests go: the tokens of every node but joining and left ones. */
  readonly ring: TokenRing;
  /**
   * While tokens move in this rack, the ring on the other side of the move (joining nodes in, settling ones out, leaving ones out,
   * just-left ones in): a write goes to its owner there too. null when nothing moves.
   */
  readonly shadow: TokenRing | null;
  /**
   * The shadow ring is the future side (a node joining or leaving: its owners are receiving the range); false when it is the past
   * side (a move settling: its owners are the old ones). A receiver of a redis range gets its keys from the copy and its mirror
   * (cluster/mirror.ts) rather than as shadow writes, which the mirror's read-backs would double (an INCR applied twice).
   */
  readonly incoming: boolean;
}

export class ClusterView {
  readonly version: number;
  readonly datacenters: readonly string[];
  readonly nodes: readonly ViewNode[];
  readonly racks: readonly ViewRack[];
  readonly localNode: number;
  readonly localDc: number;
  readonly localRack: number;
  /** Racks of this datacenter, this node's rack first. */
  readonly localRacks: Int32Array;
  /** The other datacenters, in table order. */
  readonly remoteDcs: Int32Array;
  /** Per remote datacenter (parallel to remoteDcs): its racks, the preferred one (named like ours, else its first) first. */
  readonly remoteRacks: readonly Int32Array[];
  /** Every rack, this datacenter's first, grouped by datacenter (DC_EACH_SAFE_QUORUM); dcGroupOfRack numbers the groups. */
  readonly allRacksByDc: Int32Array;
  readonly dcGroupOfRack: Int32Array;
  readonly racksPerDc: readonly number[];
  /** 1 for each node that runs Dynomite, by node index; hasDynomite when any does. */
  readonly dynomiteNode: Uint8Array;
  readonly hasDynomite: boolean;
  /** Most replicas replicasFor(SCOPE_ALL) yields: the size a ReplicaSet needs. */
  readonly maxReplicas: number;
  /** Some rack has a shadow ring (tokens are moving): writes get shadow replicas. */
  readonly moving: boolean;

  constructor(snap: TopologySnapshot) {
    this.version = snap.version ?? 0;
    this.datacenters = snap.datacenters;
    const racks: ViewRack[] = [];
    const members: number[][] = snap.racks.map(() => []);
    snap.nodes.forEach((n, i) => members[n.rack]?.push(i));
    snap.racks.forEach((r, k) => {
      const ringOf = (keep: (n: TopologySnapshot['nodes'][number]) => boolean): TokenRing => {
        const tokens = [];
        const owners = [];
        for (const ni of members[k]) {
          if (!keep(snap.nodes[ni])) continue;
          for (const t of snap.nodes[ni].tokens) {
            tokens.push(t);
            owners.push(ni);
          }
        }
        return new TokenRing(tokens, owners);
      };
      const moving = members[k].some((ni) => inRing(snap.nodes[ni].state) !== inShadow(snap.nodes[ni].state, snap.nodes[ni].settling === true));
      const ring = ringOf((n) => inRing(n.state));
      const shadow = moving ? ringOf((n) => inShadow(n.state, n.settling === true)) : null;
      const incoming = moving && members[k].some((ni) => snap.nodes[ni].state === NODE_STATE.JOINING || snap.nodes[ni].state === NODE_STATE.LEAVING);
      racks.push({ index: k, name: r.name, dc: r.dc, nodes: members[k], ring, shadow, incoming });
    });
    this.racks = racks;
    this.moving = racks.some((r) => r.shadow !== null);
    this.nodes = snap.nodes.map((n, i) => {
      const rack = snap.racks[n.rack];
      const tokens = n.tokens.map((t) => formatDynToken(t));
      return {
        index: i,
        id: `${snap.datacenters[rack.dc]}/${rack.name}/${n.host}:${n.peerPort}/${tokens[0] ?? ''}`,
        name: `${n.host}:${n.peerPort}`,
        compat: n.dynomite === true ? 'dynomite' : 'dynoproxy',
        host: n.host,
        peerPort: n.peerPort,
        clientPort: n.clientPort,
        rack: n.rack,
        dc: rack.dc,
        state: n.state,
        local: n.isLocal,
        tokens,
      };
    });
    this.dynomiteNode = Uint8Array.from(this.nodes, (n) => (n.compat === 'dynomite' ? 1 : 0));
    this.hasDynomite = this.dynomiteNode.includes(1);
    const local = this.nodes.findIndex((n) => n.local);
    if (local < 0) throw new Error('ClusterView: the topology has no local node');
    this.localNode = local;
    this.localRack = this.nodes[local].rack;
    this.localDc = this.nodes[local].dc;
    const ownName = racks[this.localRack].name;
    const localRacks = [this.localRack, ...racks.filter((r) => r.dc === this.localDc && r.index !== this.localRack).map((r) => r.index)];
    this.localRacks = Int32Array.from(localRacks);
    const remoteDcs = [...new Set(racks.filter((r) => r.dc !== this.localDc).map((r) => r.dc))];
    this.remoteDcs = Int32Array.from(remoteDcs);
    this.remoteRacks = remoteDcs.map((dc) => {
      const inDc = racks.filter((r) => r.dc === dc);
      const preferred = inDc.find((r) => r.name === ownName) ?? inDc[0];
      return Int32Array.from([preferred.index, ...inDc.filter((r) => r !== preferred).map((r) => r.index)]);
    });
    const byDc = [localRacks, ...this.remoteRacks.map((a) => Array.from(a))];
    this.allRacksByDc = Int32Array.from(byDc.flat());
    this.dcGroupOfRack = Int32Array.from(byDc.flatMap((rs, g) => rs.map(() => g)));
    this.racksPerDc = byDc.map((rs) => rs.length);
    this.maxReplicas = this.allRacksByDc.length * (this.moving ? 2 : 1);
  }

  /** The node owning a hash in one rack (-1 for an empty rack). */
  ownerInRack(rack: number, hash: number): number {
    return this.racks[rack].ring.lookup(hash);
  }

  /**
   * The owners of a hash, in preference order, into `out` (returns out.count): this rack's owner, then the other local
   * racks' owners (SCOPE_LOCAL_DC and up), then per remote datacenter its preferred rack's owner and the fallbacks
   * (SCOPE_ALL). Racks without nodes are skipped.
   */
  replicasFor(hash: number, scope: number, out: ReplicaSet): number {
    out.ensure(this.maxReplicas);
    let n = 0;
    const local = this.localRacks;
    const localCount = scope === SCOPE_LOCAL_RACK ? 1 : local.length;
    for (let i = 0; i < localCount; i++) {
      const o = this.ownerInRack(local[i], hash);
      if (o < 0) continue;
      out.node[n] = o;
      out.rack[n] = local[i];
      out.group[n] = 0;
      out.tier[n] = i === 0 ? TIER_LOCAL_RACK : TIER_LOCAL_DC;
      n++;
    }
    if (scope === SCOPE_ALL) {
      for (let d = 0; d < this.remoteRacks.length; d++) {
        const rs = this.remoteRacks[d];
        let first = true;
        for (let i = 0; i < rs.length; i++) {
          const o = this.ownerInRack(rs[i], hash);
          if (o < 0) continue;
          out.node[n] = o;
          out.rack[n] = rs[i];
          out.group[n] = d + 1;
          out.tier[n] = first ? TIER_REMOTE : TIER_REMOTE_FALLBACK;
          first = false;
          n++;
        }
      }
    }
    // Writes (SCOPE_ALL) while tokens move: the owner on the other side of the move in each moving rack, after everything else.
    if (scope === SCOPE_ALL && this.moving) {
      const all = this.allRacksByDc;
      for (let i = 0; i < all.length; i++) {
        const rack = this.racks[all[i]];
        if (rack.shadow === null) continue;
        const o = rack.shadow.lookup(hash);
        if (o < 0 || o === rack.ring.lookup(hash)) continue;
        out.node[n] = o;
        out.rack[n] = all[i];
        out.group[n] = 0;
        out.tier[n] = TIER_SHADOW;
        n++;
      }
    }
    out.count = n;
    return n;
  }

  /** The node with this identity in this version, or -1 (it left, or moved). */
  nodeById(id: string): number {
    for (const n of this.nodes) if (n.id === id) return n.index;
    return -1;
  }
}
