// Membership: the cluster worker's list of nodes as gossip learns them — merges GOSSIP records by version, refuses what would
// corrupt the ring (a token a live node owns, an address a live node holds, floods), and builds the topology snapshot to publish.
// Pure: no I/O, no timers, no threads (the caller passes the clock and liveness); never reorders node indices (links, peer
// states and hints are indexed by them), so a new node is appended and a replaced one keeps its slot empty.
import { NODE_STATE, parseDynToken, type TopologySnapshot } from '../topology/index.ts';
import type { GossipNodeRecord } from '../protocol/dnode/index.ts';

export interface Member {
  /** Slot in the published table; never changes while this worker lives. */
  readonly index: number;
  host: string;
  peerPort: number;
  clientPort: number;
  dc: string;
  rack: string;
  /** Decimal token text, as configured or gossiped. */
  tokens: string[];
  /** The state the node gossips about itself (a NODE_STATE value). */
  state: number;
  /** Gossip version: the node's own clock in ms when it last spoke (a restart starts a newer one). 0: known from config only. */
  version: number;
  readonly local: boolean;
  readonly dynomite: boolean;
  /** Taken over by another node (its tokens moved), or left: kept as an empty slot. */
  removed: boolean;
}

export interface MembershipLimits {
  /** Most nodes the table holds (pool key max_nodes). */
  maxNodes: number;
  /** Most tokens one node may claim. */
  maxTokensPerNode: number;
  /** Most records one gossip message may carry (more: the whole message is refused). */
  maxRecords: number;
  /** The topology table's capacity: tokens of all nodes, and bytes of all names. */
  maxTotalTokens: number;
  maxStringBytes: number;
}

export const DEFAULT_MEMBERSHIP_LIMITS: MembershipLimits = { maxNodes: 1024, maxTokensPerNode: 256, maxRecords: 8192, maxTotalTokens: 8192, maxStringBytes: 98_304 };

/** Why records were refused (counted per reason, logged). */
export type Refusal = 'malformed' | 'flood' | 'token-owned' | 'address-claimed' | 'too-many-nodes' | 'bad-node';

export interface MergeResult {
  /** Something the table shows changed (a node, its state, tokens or ports). */
  changed: boolean;
  /** Nodes added (by index). */
  added: number[];
  /** Records older than what we hold (ignored, as they must be). */
  stale: number;
  refused: { reason: Refusal; address: string; detail: string }[];
}

const MAX_NAME_BYTES = 256;
const HOST_FIELD = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+)(?::([0-9]{1,5}))?(?::([0-9]{1,5}))?$/;

/** A node's gossip host field: `host:peerPort:clientPort` (IPv6 in brackets). Dynomite's records carry the host alone. */
export function encodeHostField(host: string, peerPort: number, clientPort: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${peerPort}:${clientPort}`;
}

/** Parses a host field; a bare host (Dynomite: every node listens on the same dyn_listen port) takes `defaultPeerPort`. */
export function parseHostField(field: string, defaultPeerPort: number): { host: string; peerPort: number; clientPort: number } | null {
  const m = HOST_FIELD.exec(field);
  if (m === null) return null;
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  const peerPort = m[2] === undefined ? defaultPeerPort : Number(m[2]);
  const clientPort = m[3] === undefined ? 0 : Number(m[3]);
  if (peerPort < 1 || peerPort > 65535 || clientPort > 65535) return null;
  return { host, peerPort, clientPort };
}

function addressOf(host: string, port: number): string {
  return `${host}:${port}`;
}

function sameTokens(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((t) => s.has(t));
}

export class Membership {
  readonly members: Member[] = [];
  readonly limits: MembershipLimits;
  private readonly byAddress = new Map<string, Member>();
  private readonly localPeerPort: number;
  /** This node's own record is left out of what it gossips (a join listening first). */
  silent = false;

  /** `configured`: the config's snapshot (node 0 this node, then the seeds); its order is the first slots' order. */
  constructor(configured: TopologySnapshot, tokensText: readonly (readonly string[])[], now: number, limits: MembershipLimits = DEFAULT_MEMBERSHIP_LIMITS) {
    this.limits = limits;
    configured.nodes.forEach((n, i) => {
      const rack = configured.racks[n.rack];
      const m: Member = {
        index: i, host: n.host, peerPort: n.peerPort, clientPort: n.clientPort, dc: configured.datacenters[rack.dc], rack: rack.name,
        tokens: [...tokensText[i]], state: n.state, version: n.isLocal ? Math.max(1, Math.floor(now)) : 0, local: n.isLocal,
        dynomite: n.dynomite === true, removed: false,
      };
      this.members.push(m);
      this.byAddress.set(addressOf(m.host, m.peerPort), m);
    });
    const local = this.members.find((m) => m.local);
    if (local === undefined) throw new Error('Membership: the configured topology has no local node');
    this.localPeerPort = local.peerPort;
  }

  get local(): Member {
    return this.members.find((m) => m.local) as Member;
  }

  /**
   * A seed a provider found (file, florida, DNS): added as a configured node (version 0, its gossip brings the rest) when its address
   * is new and no node of its rack holds its tokens (a replacement announces itself by gossip); returns its index, or -1 when it was known or refused (`why` says).
   */
  addSeed(seed: { host: string; port: number; rack: string; datacenter: string; tokens: readonly string[] }): { index: number; why: string } {
    const address = addressOf(seed.host, seed.port);
    if (this.byAddress.has(address)) return { index: -1, why: 'known' };
    if (this.members.length >= this.limits.maxNodes) return { index: -1, why: 'max_nodes reached' };
    for (const m of this.members) {
      if (m.removed || m.dc !== seed.datacenter || m.rack !== seed.rack || !m.tokens.some((t) => seed.tokens.includes(t))) continue;
      return { index: -1, why: `a token of ${seed.datacenter}/${seed.rack} is owned by ${addressOf(m.host, m.peerPort)}` };
    }
    if (seed.tokens.length === 0 || seed.tokens.length > this.limits.maxTokensPerNode) return { index: -1, why: `${seed.tokens.length} tokens` };
    const m: Member = {
      index: this.members.length, host: seed.host, peerPort: seed.port, clientPort: 0, dc: seed.datacenter, rack: seed.rack, tokens: [...seed.tokens],
      state: NODE_STATE.NORMAL, version: 0, local: false, dynomite: false, removed: false,
    };
    this.members.push(m);
    this.byAddress.set(address, m);
    return { index: m.index, why: '' };
  }

  /** A new heartbeat: this node's version moves on (strictly, even if the clock stood still or went back). */
  beat(now: number): void {
    const l = this.local;
    l.version = Math.max(Math.floor(now), l.version + 1);
  }

  /** This node's tokens change (a ring move, after it left the ring): gossiped from the next round, with a new version. */
  setLocalTokens(tokens: readonly string[], now: number): void {
    this.local.tokens = [...tokens];
    this.beat(now);
  }

  /** This node's own state changes (joining, leaving, normal ...): gossiped from the next round, with a new version. */
  setLocalState(state: number, now: number): void {
    this.local.state = state;
    this.beat(now);
  }

  /** What this node gossips: one record per token of every node it knows (config-only nodes too, as version 0; not itself while silent). */
  records(): GossipNodeRecord[] {
    const out: GossipNodeRecord[] = [];
    for (const m of this.members) {
      // A joining node that has not decided yet whether it is new listens before it announces anything about itself (join.ts).
      if (m.removed || m.dynomite || (m.local && this.silent)) continue;
      const host = encodeHostField(m.host, m.peerPort, m.clientPort);
      for (const token of m.tokens) out.push({ dc: m.dc, rack: m.rack, token, timestamp: m.version, state: m.state, host });
    }
    return out;
  }

  /**
   * Merges what a peer gossiped. A node's records are all-or-nothing; a newer version wins and an older or equal one is ignored; this
   * node's own record is never taken from others (a newer one about us means we restarted faster than they forgot: our version jumps
   * past it). `alive(index)`: the failure detector does not think the node down (an owner that is alive keeps its tokens and address).
   */
  merge(records: readonly GossipNodeRecord[], alive: (index: number) => boolean): MergeResult {
    const result: MergeResult = { changed: false, added: [], stale: 0, refused: [] };
    if (records.length > this.limits.maxRecords) {
      result.refused.push({ reason: 'flood', address: '*', detail: `${records.length} records in one message (at most ${this.limits.maxRecords})` });
      return result;
    }
    const groups = new Map<string, GossipNodeRecord[]>();
    for (const r of records) {
      const g = groups.get(r.host);
      if (g === undefined) groups.set(r.host, [r]);
      else g.push(r);
    }
    for (const [field, group] of groups) this.mergeNode(field, group, alive, result);
    return result;
  }

  private mergeNode(field: string, group: GossipNodeRecord[], alive: (index: number) => boolean, result: MergeResult): void {
    const refuse = (reason: Refusal, address: string, detail: string): void => void result.refused.push({ reason, address, detail });
    const where = parseHostField(field, this.localPeerPort);
    if (where === null) return refuse('malformed', field, 'host is not host[:peerPort[:clientPort]]');
    const address = addressOf(where.host, where.peerPort);
    const first = group[0];
    if (group.some((r) => r.dc !== first.dc || r.rack !== first.rack || r.timestamp !== first.timestamp || r.state !== first.state)) {
      return refuse('malformed', address, "the node's records disagree on dc, rack, version or state");
    }
    if (Buffer.byteLength(first.dc) > MAX_NAME_BYTES || Buffer.byteLength(first.rack) > MAX_NAME_BYTES || Buffer.byteLength(where.host) > MAX_NAME_BYTES) {
      return refuse('malformed', address, `a name longer than ${MAX_NAME_BYTES} bytes`);
    }
    const tokens = [...new Set(group.map((r) => r.token))];
    if (tokens.length > this.limits.maxTokensPerNode) return refuse('flood', address, `${tokens.length} tokens (at most ${this.limits.maxTokensPerNode})`);
    if (first.state === NODE_STATE.DOWN) return refuse('bad-node', address, 'a node does not gossip itself down');
    const known = this.byAddress.get(address);
    if (known !== undefined && known.local) {
      if (first.timestamp >= known.version) known.version = first.timestamp + 1;
      return;
    }
    if (known !== undefined && !known.removed && first.timestamp <= known.version) {
      result.stale++;
      return;
    }
    const moved = known !== undefined && !known.removed && (known.dc !== first.dc || known.rack !== first.rack || !sameTokens(known.tokens, tokens));
    // A live node keeps its place, except one that left the ring: it owns no range, and comes back joining with other tokens (a ring
    // move, move.ts) in a newer version.
    if (moved && alive(known.index) && !(known.state === NODE_STATE.LEFT && first.state !== NODE_STATE.LEFT)) {
      return refuse('address-claimed', address, `${address} is a live node of ${known.dc}/${known.rack}`);
    }
    // A token owned by another live node of the same rack is refused; one of a dead node is taken over (replace). A node that left
    // owns none (it stays listed, LEFT, with the tokens it had).
    const takeOver: Member[] = [];
    for (const m of this.members) {
      if (m === known || m.removed || m.dc !== first.dc || m.rack !== first.rack || !m.tokens.some((t) => tokens.includes(t))) continue;
      if (m.state === NODE_STATE.LEFT) continue;
      if (m.local || alive(m.index)) return refuse('token-owned', address, `a token of ${first.dc}/${first.rack} is owned by live node ${addressOf(m.host, m.peerPort)}`);
      takeOver.push(m);
    }
    try {
      for (const t of tokens) parseDynToken(t);
    } catch {
      return refuse('malformed', address, 'a token is not a decimal number');
    }
    if (known === undefined && this.members.length >= this.limits.maxNodes) return refuse('too-many-nodes', address, `the cluster has ${this.limits.maxNodes} nodes (max_nodes)`);
    const used = this.usage();
    const names = Buffer.byteLength(first.dc) + Buffer.byteLength(first.rack) + Buffer.byteLength(where.host);
    if (used.tokens + tokens.length > this.limits.maxTotalTokens || used.bytes + names > this.limits.maxStringBytes) {
      return refuse('too-many-nodes', address, 'the topology table is full (tokens or names)');
    }
    for (const m of takeOver) {
      m.removed = true;
      m.tokens = [];
    }
    if (known === undefined || known.removed) {
      const m: Member = {
        index: known?.index ?? this.members.length, host: where.host, peerPort: where.peerPort, clientPort: where.clientPort, dc: first.dc,
        rack: first.rack, tokens, state: first.state, version: first.timestamp, local: false, dynomite: false, removed: false,
      };
      if (known === undefined) this.members.push(m);
      else this.members[known.index] = m;
      this.byAddress.set(address, m);
      result.added.push(m.index);
      result.changed = true;
      return;
    }
    result.changed ||= moved || known.state !== first.state || (where.clientPort !== 0 && known.clientPort !== where.clientPort) || takeOver.length > 0;
    known.version = first.timestamp;
    known.state = first.state;
    if (where.clientPort !== 0) known.clientPort = where.clientPort;
    if (moved) {
      known.dc = first.dc;
      known.rack = first.rack;
      known.tokens = tokens;
    }
  }

  /** Tokens and name bytes the members take (an upper bound of the table's use: names counted per node). */
  private usage(): { tokens: number; bytes: number } {
    let tokens = 0;
    let bytes = 0;
    for (const m of this.members) {
      tokens += m.tokens.length;
      bytes += Buffer.byteLength(m.dc) + Buffer.byteLength(m.rack) + Buffer.byteLength(m.host);
    }
    return { tokens, bytes };
  }

  /**
   * The table to publish: every slot in index order (a removed one keeps its slot, without tokens, as LEFT), each node with the state
   * it gossips (liveness is the failure detector's, in the peer-state words). `settling(index)`: its tokens moved a moment ago.
   */
  snapshot(settling: (index: number) => boolean = () => false): TopologySnapshot {
    const datacenters: string[] = [];
    const racks: { name: string; dc: number }[] = [];
    const rackIndex = new Map<string, number>();
    const rackOf = (dc: string, rack: string): number => {
      if (!datacenters.includes(dc)) datacenters.push(dc);
      const key = `${dc}\u0000${rack}`;
      let r = rackIndex.get(key);
      if (r === undefined) {
        r = racks.length;
        rackIndex.set(key, r);
        racks.push({ name: rack, dc: datacenters.indexOf(dc) });
      }
      return r;
    };
    const nodes = this.members.map((m) => ({
      host: m.host,
      rack: rackOf(m.dc, m.rack),
      clientPort: m.clientPort,
      peerPort: m.peerPort,
      state: m.removed ? NODE_STATE.LEFT : m.state,
      isLocal: m.local,
      ...(m.dynomite ? { dynomite: true } : {}),
      ...(!m.removed && settling(m.index) ? { settling: true } : {}),
      tokens: m.removed ? [] : m.tokens.map((t) => parseDynToken(t)),
    }));
    return { datacenters, racks, nodes };
  }
}
