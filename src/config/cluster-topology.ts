// The topology a cluster node starts from: its own node and its dyn_seeds as a table snapshot, and the SharedArrayBuffer sized for it.
// Never publishes the table itself: the cluster worker is its only writer (at start and on every change); pure, no I/O.
import { parseSeed } from './parse-address.ts';
import type { PoolConfig } from './pool-config.ts';
import { createTopologyBuffer, parseDynToken, NODE_STATE, type TopologySnapshot } from '../topology/index.ts';

interface ConfigNode {
  host: string;
  peerPort: number;
  rack: string;
  dc: string;
  tokens: readonly string[];
  local: boolean;
  dynomite: boolean;
}

/**
 * The configured cluster as a snapshot. Node 0 is this node, then the seeds in dyn_seeds order (peer stats blocks
 * and the peer-state table number them so); racks and datacenters in order of first appearance.
 */
export function topologyFromConfig(config: PoolConfig): TopologySnapshot {
  const listen = config.dynListen;
  if (listen === null) throw new Error('a cluster node needs dyn_listen');
  const nodes: ConfigNode[] = [
    { host: listen.host, peerPort: listen.port, rack: config.rack, dc: config.datacenter, tokens: config.tokens, local: true, dynomite: false },
    ...config.dynSeeds.map((text) => {
      const s = parseSeed(text);
      return { host: s.host, peerPort: s.port, rack: s.rack, dc: s.datacenter, tokens: s.tokens, local: false, dynomite: (s.compat ?? config.peerCompat) === 'dynomite' };
    }),
  ];
  const datacenters: string[] = [];
  const racks: { name: string; dc: number }[] = [];
  const rackIndex = new Map<string, number>();
  for (const n of nodes) {
    if (!datacenters.includes(n.dc)) datacenters.push(n.dc);
    const key = `${n.dc}\u0000${n.rack}`;
    if (!rackIndex.has(key)) {
      rackIndex.set(key, racks.length);
      racks.push({ name: n.rack, dc: datacenters.indexOf(n.dc) });
    }
  }
  return {
    datacenters,
    racks,
    nodes: nodes.map((n) => ({
      host: n.host,
      rack: rackIndex.get(`${n.dc}\u0000${n.rack}`) as number,
      clientPort: n.local ? config.listen.port : 0,
      peerPort: n.peerPort,
      state: NODE_STATE.NORMAL,
      isLocal: n.local,
      ...(n.dynomite ? { dynomite: true } : {}),
      tokens: n.tokens.map((t) => parseDynToken(t)),
    })),
  };
}

/**
 * A table with room for this snapshot and for the cluster gossip may grow it to (max_nodes nodes of up to 8 tokens each on average):
 * membership changes republish into the same buffer.
 */
export function createClusterTable(snap: TopologySnapshot, maxNodes = 0): SharedArrayBuffer {
  const tokens = snap.nodes.reduce((s, n) => s + n.tokens.length, 0);
  const strings = Buffer.byteLength(snap.datacenters.join('') + snap.racks.map((r) => r.name).join('') + snap.nodes.map((n) => n.host).join(''));
  const nodes = Math.max(64, snap.nodes.length * 2, maxNodes);
  return createTopologyBuffer({ maxNodes: nodes, maxTokens: Math.max(256, tokens * 2, nodes * 8), maxStringBytes: Math.max(4096, strings * 2, nodes * 96) });
}
