// ClusterMap: this node's view of the cluster (datacenters > racks > nodes, one token ring per rack), built from the pool's config.
// Never allocates per lookup: owners are found through each rack's TokenRing over the key's hash.
import { parseSeed, type PeerCompat, type PoolConfig } from '../config/index.ts';
import {
  TokenRing,
  parseDynToken,
  hashFunction,
  hashTagRange,
  createTopologyBuffer,
  TopologyWriter,
  TopologyReader,
  NODE_STATE,
  type HashFn,
  type TopologySnapshot,
} from '../topology/index.ts';

export interface ClusterNode {
  readonly index: number;
  readonly name: string;
  readonly host: string;
  readonly peerPort: number;
  readonly rack: string;
  readonly dc: string;
  readonly tokens: readonly string[];
  readonly local: boolean;
  /** What the node runs: a Dynomite node gets no authentication exchange and only what its parser accepts. */
  readonly compat: PeerCompat;
}

export interface ClusterRack {
  readonly index: number;
  readonly name: string;
  readonly dc: string;
  readonly nodes: readonly number[];
  readonly ring: TokenRing;
}

export class ClusterMap {
  readonly nodes: ClusterNode[] = [];
  readonly racks: ClusterRack[] = [];
  readonly localNode: number;
  readonly localDc: string;
  /** Racks of this node's datacenter, this node's rack first. */
  readonly localRacks: number[] = [];
  /** For each other datacenter, the rack that receives our writes for it (the one named like ours, else its first). */
  readonly remoteDcRacks: number[] = [];
  /** localRacks then remoteDcRacks: every rack a write goes to (precomputed: the request path does not concat). */
  readonly writeRacks: number[] = [];
  /** DC_EACH_SAFE_QUORUM: every rack, local datacenter first, grouped by datacenter; dcOfRack[i] numbers its group. */
  readonly allRacksByDc: number[] = [];
  readonly dcOfRack: Int32Array;
  readonly racksPerDc: number[] = [];
  /** 1 for each node that runs Dynomite, by node index (read per request only when hasDynomite). */
  readonly dynomite: Uint8Array;
  readonly hasDynomite: boolean;
  private readonly hash: HashFn;
  private readonly tagLeft: number;
  private readonly tagRight: number;
  private readonly range = new Int32Array(2);

  constructor(config: PoolConfig) {
    const listen = config.dynListen;
    if (listen === null) throw new Error('a cluster node needs dyn_listen');
    this.localDc = config.datacenter;
    this.nodes.push({
      index: 0,
      name: `${listen.host}:${listen.port}`,
      host: listen.host,
      peerPort: listen.port,
      rack: config.rack,
      dc: config.datacenter,
      tokens: config.tokens,
      local: true,
      compat: 'dynoproxy',
    });
    for (const text of config.dynSeeds) {
      const s = parseSeed(text);
      this.nodes.push({
        index: this.nodes.length,
        name: s.name ?? `${s.host}:${s.port}`,
        host: s.host,
        peerPort: s.port,
        rack: s.rack,
        dc: s.datacenter,
        tokens: s.tokens,
        local: false,
        compat: s.compat ?? config.peerCompat,
      });
    }
    this.dynomite = Uint8Array.from(this.nodes, (n) => (n.compat === 'dynomite' ? 1 : 0));
    this.hasDynomite = this.dynomite.includes(1);
    this.localNode = 0;
    const byRack = new Map<string, number[]>();
    for (const n of this.nodes) {
      const key = `${n.dc}\u0000${n.rack}`;
      const list = byRack.get(key) ?? [];
      list.push(n.index);
      byRack.set(key, list);
    }
    for (const [key, members] of byRack) {
      const [dc, name] = key.split('\u0000') as [string, string];
      const tokens = [];
      const owners = [];
      for (const ni of members) {
        for (const t of this.nodes[ni].tokens) {
          tokens.push(parseDynToken(t));
          owners.push(ni);
        }
      }
      this.racks.push({ index: this.racks.length, name, dc, nodes: members, ring: new TokenRing(tokens, owners) });
    }
    const own = this.racks.find((r) => r.dc === config.datacenter && r.name === config.rack) as ClusterRack;
    this.localRacks.push(own.index);
    for (const r of this.racks) if (r.dc === config.datacenter && r !== own) this.localRacks.push(r.index);
    const otherDcs = [...new Set(this.racks.filter((r) => r.dc !== config.datacenter).map((r) => r.dc))];
    for (const dc of otherDcs) {
      const racks = this.racks.filter((r) => r.dc === dc);
      this.remoteDcRacks.push((racks.find((r) => r.name === config.rack) ?? racks[0]).index);
    }
    this.writeRacks.push(...this.localRacks, ...this.remoteDcRacks);
    const dcs = [config.datacenter, ...otherDcs];
    const dcIndex: number[] = [];
    dcs.forEach((dc, d) => {
      const racks = dc === config.datacenter ? this.localRacks : this.racks.filter((r) => r.dc === dc).map((r) => r.index);
      for (const r of racks) {
        this.allRacksByDc.push(r);
        dcIndex.push(d);
      }
      this.racksPerDc.push(racks.length);
    });
    this.dcOfRack = Int32Array.from(dcIndex);
    this.hash = hashFunction(config.hash);
    this.tagLeft = config.hashTag !== null ? config.hashTag.charCodeAt(0) : -1;
    this.tagRight = config.hashTag !== null ? config.hashTag.charCodeAt(1) : -1;
  }

  /** Dynomite's key hash: hash tag extraction, then the configured hash function. */
  keyHash(buf: Uint8Array, start: number, end: number): number {
    if (this.tagLeft >= 0) {
      const r = this.range;
      hashTagRange(buf, start, end, this.tagLeft, this.tagRight, r);
      return this.hash(buf, r[0], r[1]);
    }
    return this.hash(buf, start, end);
  }

  /** The shared topology table this map reads ownership from (lock-free, published by the supervisor), or null. */
  private table: TopologyReader | null = null;

  /** The node owning a hash in one rack: from the shared table when attached, else from this map's own rings. */
  ownerInRack(rack: number, hash: number): number {
    const t = this.table;
    if (t !== null) {
      const o = t.ownerInRack(rack, hash);
      if (o >= 0) return o;
    }
    return this.racks[rack].ring.lookup(hash);
  }

  /** Read ownership from a SharedArrayBuffer table published from this same map (same rack and node numbering). */
  attachTable(sab: SharedArrayBuffer): void {
    this.table = new TopologyReader(sab);
  }

  /** This map as a topology table snapshot: racks and nodes keep their indexes. */
  snapshot(clientPort: number): TopologySnapshot {
    const dcs = [...new Set(this.racks.map((r) => r.dc))];
    return {
      datacenters: dcs,
      racks: this.racks.map((r) => ({ name: r.name, dc: dcs.indexOf(r.dc) })),
      nodes: this.nodes.map((n) => ({
        host: n.host,
        rack: this.racks.findIndex((r) => r.nodes.includes(n.index)),
        clientPort: n.local ? clientPort : 0,
        peerPort: n.peerPort,
        state: NODE_STATE.NORMAL,
        isLocal: n.local,
        tokens: n.tokens.map((t) => parseDynToken(t)),
      })),
    };
  }

  /** A new SharedArrayBuffer table holding this map, for every data worker to read. */
  publishTable(clientPort: number): SharedArrayBuffer {
    const snap = this.snapshot(clientPort);
    const tokens = snap.nodes.reduce((s, n) => s + n.tokens.length, 0);
    const strings = Buffer.byteLength(snap.datacenters.join('') + snap.racks.map((r) => r.name).join('') + snap.nodes.map((n) => n.host).join(''));
    const sab = createTopologyBuffer({ maxNodes: snap.nodes.length, maxTokens: Math.max(1, tokens), maxStringBytes: strings + 64 });
    new TopologyWriter(sab).publish(snap);
    return sab;
  }
}
