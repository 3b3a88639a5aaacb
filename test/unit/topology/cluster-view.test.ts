// ClusterView: racks and owners decoded from the topology table built from a node's config, and replicasFor's order and fallbacks.
// Pure: builds views from YAML text and tables in memory, starts nothing.
import t from 'tap';
import { parseConfig, topologyFromConfig, createClusterTable } from '../../../src/config/index.ts';
import {
  ClusterView, ReplicaSet, KeyHasher, TokenRing, TopologyReader, TopologyWriter, parseDynToken, hashFunction,
  SCOPE_LOCAL_RACK, SCOPE_LOCAL_DC, SCOPE_ALL, TIER_LOCAL_RACK, TIER_LOCAL_DC, TIER_REMOTE, TIER_REMOTE_FALLBACK,
} from '../../../src/topology/index.ts';

const yaml = `
n:
  datacenter: dc1
  rack: r2
  listen: 127.0.0.1:9102
  dyn_listen: 127.0.0.1:9101
  tokens: '2147483648'
  servers:
  - 127.0.0.1:6379:1
  hash_tag: "{}"
  dyn_seeds:
  - 127.0.0.1:9201:r2:dc1:4294967295
  - 127.0.0.1:9301:r1:dc1:1000
  - 127.0.0.1:9401:r1:dc1:3000000000
  - 127.0.0.1:9501:rx:dc2:5
  - 127.0.0.1:9601:r2:dc2:7
  - 127.0.0.1:9701:r9:dc3:11
`;

const pool = parseConfig(yaml, 'cluster.yml').pools[0];
const snap = topologyFromConfig(pool);
const table = createClusterTable(snap);
new TopologyWriter(table).publish(snap);
const view = new ClusterView(new TopologyReader(table).snapshot());
const hasher = new KeyHasher(pool.hash, pool.hashTag);
const rackName = (r: number): string => `${view.datacenters[view.racks[r].dc]}/${view.racks[r].name}`;

t.equal(view.nodes.length, 7, 'this node and six seeds');
t.ok(view.nodes[0].local, 'node 0 is this node');
t.equal(view.version, 1, 'the first published version');
t.same(Array.from(view.localRacks, rackName), ['dc1/r2', 'dc1/r1'], 'local racks: our own first');
t.same(view.remoteRacks.map((rs) => Array.from(rs, rackName)), [['dc2/r2', 'dc2/rx'], ['dc3/r9']], 'remote DCs: the rack named like ours first, then the others');
t.same(view.racksPerDc, [2, 2, 1]);
t.equal(view.nodes[2].id, 'dc1/r1/127.0.0.1:9301/1000', 'identity: dc, rack, address, first token');

t.test('ownership in each rack is the token ring of its nodes', async (t) => {
  const murmur = hashFunction('murmur');
  const r1 = new TokenRing([parseDynToken('1000'), parseDynToken('3000000000')], [2, 3]);
  const r2 = new TokenRing([parseDynToken('2147483648'), parseDynToken('4294967295')], [0, 1]);
  for (let i = 0; i < 500; i++) {
    const key = Buffer.from(`key:${i}`);
    const h = hasher.keyHash(key, 0, key.length);
    if (h !== murmur(key, 0, key.length)) t.fail(`hash of ${key} differs from murmur`);
    if (view.ownerInRack(view.localRacks[1], h) !== r1.lookup(h)) t.fail(`r1 owner of ${key}`);
    if (view.ownerInRack(view.localRacks[0], h) !== r2.lookup(h)) t.fail(`r2 owner of ${key}`);
  }
  t.pass('500 keys placed as the rings say');
});

t.test('replicasFor: owner first, then the other local racks, then each remote DC with its fallbacks', async (t) => {
  const set = new ReplicaSet(1);
  for (let i = 0; i < 300; i++) {
    const key = Buffer.from(`rf:${i}`);
    const h = hasher.keyHash(key, 0, key.length);
    t.equal(view.replicasFor(h, SCOPE_LOCAL_RACK, set), 1);
    t.equal(set.node[0], view.ownerInRack(view.localRacks[0], h));
    t.equal(set.tier[0], TIER_LOCAL_RACK);
    t.equal(view.replicasFor(h, SCOPE_LOCAL_DC, set), 2);
    t.same([set.node[1], set.tier[1], set.group[1]], [view.ownerInRack(view.localRacks[1], h), TIER_LOCAL_DC, 0]);
    t.equal(view.replicasFor(h, SCOPE_ALL, set), 5);
    const want = [
      [view.ownerInRack(view.remoteRacks[0][0], h), TIER_REMOTE, 1],
      [view.ownerInRack(view.remoteRacks[0][1], h), TIER_REMOTE_FALLBACK, 1],
      [view.ownerInRack(view.remoteRacks[1][0], h), TIER_REMOTE, 2],
    ];
    t.same([2, 3, 4].map((j) => [set.node[j], set.tier[j], set.group[j]]), want);
    if (t.passing() === false) break;
  }
});

t.test('hash tags: {user1}a and {user1}b share owners in every rack', async (t) => {
  const a = Buffer.from('{user1}a');
  const b = Buffer.from('{user1}b');
  const ha = hasher.keyHash(a, 0, a.length);
  const hb = hasher.keyHash(b, 0, b.length);
  t.equal(ha, hb);
  for (const r of view.racks) t.equal(view.ownerInRack(r.index, ha), view.ownerInRack(r.index, hb), `rack ${rackName(r.index)}`);
});

t.test('a pool without dyn_listen is not a cluster node', async (t) => {
  const single = parseConfig('s:\n  listen: 127.0.0.1:9000\n  servers:\n  - 127.0.0.1:6379:1\n', 's.yml').pools[0];
  t.throws(() => topologyFromConfig(single), /dyn_listen/);
});

t.test('a republished table is a new version with the same identities', async (t) => {
  const w = new TopologyWriter(table);
  w.publish(snap);
  const reader = new TopologyReader(table);
  const v2 = new ClusterView(reader.snapshot());
  t.equal(v2.version, 2);
  t.same(v2.nodes.map((n) => n.id), view.nodes.map((n) => n.id));
  let differ = 0;
  for (let i = 0; i < 2000; i++) {
    const key = Buffer.from(`tbl:${i}`);
    const h = hasher.keyHash(key, 0, key.length);
    for (const r of view.racks) if (v2.ownerInRack(r.index, h) !== reader.ownerInRack(r.index, h)) differ++;
  }
  t.equal(differ, 0, '2000 keys x every rack: the view and the lock-free table reader agree');
});

t.test('three datacenters: rack order for reads, writes and each-DC quorum, and owners at hand-computed token edges', async (t) => {
  const three = parseConfig(`
n:
  datacenter: dc1
  rack: r2
  listen: 127.0.0.1:9100
  dyn_listen: 127.0.0.1:9101
  tokens: '2147483648'
  servers:
  - 127.0.0.1:6379:1
  dyn_seeds:
  - 127.0.0.1:9201:r1:dc1:100
  - 127.0.0.1:9202:r1:dc1:3000000000,1500000000
  - 127.0.0.1:9301:r3:dc1:4000000000
  - 127.0.0.1:9401:ra:dc2:10
  - 127.0.0.1:9402:r2:dc2:20
  - 127.0.0.1:9501:rz:dc3:5
  - 127.0.0.1:9102:r2:dc1:1000
`, 'three.yml').pools[0]
  const s3 = topologyFromConfig(three)
  const tb = createClusterTable(s3)
  new TopologyWriter(tb).publish(s3)
  const m = new ClusterView(new TopologyReader(tb).snapshot())
  const name = (r: number): string => `${m.datacenters[m.racks[r]!.dc]}/${m.racks[r]!.name}`
  t.same(m.racks.map((r) => name(r.index)), ['dc1/r2', 'dc1/r1', 'dc1/r3', 'dc2/ra', 'dc2/r2', 'dc3/rz'], 'racks numbered in order of appearance')
  t.same(m.racks[0]!.nodes, [0, 7], 'the local rack holds this node and the seed in it')
  t.same(Array.from(m.localRacks, name), ['dc1/r2', 'dc1/r1', 'dc1/r3'], 'local racks: ours first, then the others in order')
  t.same(m.remoteRacks.map((rs) => Array.from(rs, name)), [['dc2/r2', 'dc2/ra'], ['dc3/rz']], 'each remote DC: the rack named like ours, else its first, then its others')
  t.same(Array.from(m.allRacksByDc, name), ['dc1/r2', 'dc1/r1', 'dc1/r3', 'dc2/r2', 'dc2/ra', 'dc3/rz'], 'each-DC quorum: every rack, local DC first')
  t.same([...m.dcGroupOfRack], [0, 0, 0, 1, 1, 2])
  t.same(m.racksPerDc, [3, 2, 1])

  // A token is the inclusive upper end of its range; above the largest or at/below the smallest wraps to the smallest.
  const edges: [number, number, number][] = [
    // rack, hash, owner
    [0, 0, 7], [0, 1000, 7], [0, 1001, 0], [0, 2147483648, 0], [0, 2147483649, 7], [0, 4294967295, 7],
    [1, 0, 1], [1, 100, 1], [1, 101, 2], [1, 1500000000, 2], [1, 1500000001, 2], [1, 3000000000, 2], [1, 3000000001, 1],
    [2, 0, 3], [2, 4000000000, 3], [2, 4294967295, 3],
    [3, 11, 4], [4, 21, 5], [5, 6, 6],
  ]
  const reader = new TopologyReader(tb)
  for (const [rack, hash, owner] of edges) {
    t.equal(m.ownerInRack(rack, hash), owner, `${name(rack)} hash ${hash}: node ${owner}`)
    t.equal(reader.ownerInRack(rack, hash), owner, `${name(rack)} hash ${hash}: same through the shared table`)
  }
})

t.test('peer_compat through the table: a seed\'s own option, else the pool\'s; this node is dynoproxy', async (t) => {
  const viewOf = (text: string): ClusterView => {
    const s = topologyFromConfig(parseConfig(text, 'cluster.yml').pools[0])
    const tb = createClusterTable(s)
    new TopologyWriter(tb).publish(s)
    return new ClusterView(new TopologyReader(tb).snapshot())
  }
  t.same(view.nodes.map((n) => n.compat), Array(7).fill('dynoproxy'), 'by default every node')
  t.equal(view.hasDynomite, false)
  const mixed = yaml.replace('  - 127.0.0.1:9301:r1:dc1:1000', '  - 127.0.0.1:9301:r1:dc1:1000 peer_compat=dynomite')
  const m1 = viewOf(mixed)
  t.same(m1.nodes.map((n) => n.compat), ['dynoproxy', 'dynoproxy', 'dynomite', 'dynoproxy', 'dynoproxy', 'dynoproxy', 'dynoproxy'])
  t.same([...m1.dynomiteNode], [0, 0, 1, 0, 0, 0, 0])
  t.equal(m1.hasDynomite, true)
  const all = mixed.replace('  hash_tag: "{}"', '  hash_tag: "{}"\n  peer_compat: dynomite').replace('9601:r2:dc2:7', '9601:r2:dc2:7 peer_compat=dynoproxy')
  const m2 = viewOf(all)
  t.same(m2.nodes.map((n) => n.compat), ['dynoproxy', 'dynomite', 'dynomite', 'dynomite', 'dynomite', 'dynoproxy', 'dynomite'], 'the pool\'s default, a seed overriding it')
})
