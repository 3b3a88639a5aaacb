// ClusterMap: racks from the node's own config and its seeds, ownership per rack, and which rack of a remote DC gets our writes.
// Pure: builds maps from YAML text, starts nothing.
import t from 'tap';
import { parseConfig } from '../../../src/config/index.ts';
import { ClusterMap } from '../../../src/proxy/cluster-map.ts';
import { TokenRing, parseDynToken, hashFunction } from '../../../src/topology/index.ts';

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
`;

const pool = parseConfig(yaml, 'cluster.yml').pools[0];
const map = new ClusterMap(pool);

t.equal(map.nodes.length, 6, 'this node and five seeds');
t.ok(map.nodes[0].local, 'node 0 is this node');
t.same(map.localRacks.map((r) => map.racks[r].name), ['r2', 'r1'], 'local racks: our own first');
t.same(map.remoteDcRacks.map((r) => `${map.racks[r].dc}/${map.racks[r].name}`), ['dc2/r2'], 'dc2 gets our writes in the rack named like ours');

t.test('ownership in each rack is the token ring of its nodes', async (t) => {
  const murmur = hashFunction('murmur');
  const r1 = new TokenRing([parseDynToken('1000'), parseDynToken('3000000000')], [2, 3]);
  const r2 = new TokenRing([parseDynToken('2147483648'), parseDynToken('4294967295')], [0, 1]);
  const rackR1 = map.localRacks[1];
  const rackR2 = map.localRacks[0];
  for (let i = 0; i < 500; i++) {
    const key = Buffer.from(`key:${i}`);
    const h = map.keyHash(key, 0, key.length);
    if (h !== murmur(key, 0, key.length)) t.fail(`hash of ${key} differs from murmur`);
    if (map.ownerInRack(rackR1, h) !== r1.lookup(h)) t.fail(`r1 owner of ${key}`);
    if (map.ownerInRack(rackR2, h) !== r2.lookup(h)) t.fail(`r2 owner of ${key}`);
  }
  t.pass('500 keys placed as the rings say');
});

t.test('hash tags: {user1}a and {user1}b share owners in every rack', async (t) => {
  const a = Buffer.from('{user1}a');
  const b = Buffer.from('{user1}b');
  const ha = map.keyHash(a, 0, a.length);
  const hb = map.keyHash(b, 0, b.length);
  t.equal(ha, hb);
  for (const r of map.racks) t.equal(map.ownerInRack(r.index, ha), map.ownerInRack(r.index, hb), `rack ${r.dc}/${r.name}`);
});

t.test('a pool without dyn_listen is not a cluster node', async (t) => {
  const single = parseConfig('s:\n  listen: 127.0.0.1:9000\n  servers:\n  - 127.0.0.1:6379:1\n', 's.yml').pools[0];
  t.throws(() => new ClusterMap(single), /dyn_listen/);
});

t.test('ownership read from the shared topology table equals the map\'s own rings', async (t) => {
  const sab = map.publishTable(9102);
  const reader = new ClusterMap(pool);
  reader.attachTable(sab);
  let differ = 0;
  for (let i = 0; i < 2000; i++) {
    const key = Buffer.from(`tbl:${i}`);
    const h = map.keyHash(key, 0, key.length);
    for (const r of map.racks) if (reader.ownerInRack(r.index, h) !== map.racks[r.index].ring.lookup(h)) differ++;
  }
  t.equal(differ, 0, '2000 keys x every rack: same owner through the SharedArrayBuffer table');
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
  const m = new ClusterMap(three)
  const name = (r: number): string => `${m.racks[r]!.dc}/${m.racks[r]!.name}`
  t.same(m.racks.map((r) => name(r.index)), ['dc1/r2', 'dc1/r1', 'dc1/r3', 'dc2/ra', 'dc2/r2', 'dc3/rz'], 'racks numbered in order of appearance')
  t.same(m.racks[0]!.nodes, [0, 7], 'the local rack holds this node and the seed in it')
  t.same(m.localRacks.map(name), ['dc1/r2', 'dc1/r1', 'dc1/r3'], 'local racks: ours first, then the others in order')
  t.same(m.remoteDcRacks.map(name), ['dc2/r2', 'dc3/rz'], 'each remote DC: the rack named like ours, else its first')
  t.same(m.writeRacks.map(name), ['dc1/r2', 'dc1/r1', 'dc1/r3', 'dc2/r2', 'dc3/rz'], 'writes: local racks then remote DC racks')
  t.same(m.allRacksByDc.map(name), ['dc1/r2', 'dc1/r1', 'dc1/r3', 'dc2/ra', 'dc2/r2', 'dc3/rz'], 'each-DC quorum: every rack, local DC first')
  t.same([...m.dcOfRack], [0, 0, 0, 1, 1, 2])
  t.same(m.racksPerDc, [3, 2, 1])

  // A token is the inclusive upper end of its range; above the largest or at/below the smallest wraps to the smallest.
  const edges: [number, number, number][] = [
    // rack, hash, owner
    [0, 0, 7], [0, 1000, 7], [0, 1001, 0], [0, 2147483648, 0], [0, 2147483649, 7], [0, 4294967295, 7],
    [1, 0, 1], [1, 100, 1], [1, 101, 2], [1, 1500000000, 2], [1, 1500000001, 2], [1, 3000000000, 2], [1, 3000000001, 1],
    [2, 0, 3], [2, 4000000000, 3], [2, 4294967295, 3],
    [3, 11, 4], [4, 21, 5], [5, 6, 6],
  ]
  const reader = new ClusterMap(three)
  reader.attachTable(m.publishTable(9100))
  for (const [rack, hash, owner] of edges) {
    t.equal(m.ownerInRack(rack, hash), owner, `${name(rack)} hash ${hash}: node ${owner}`)
    t.equal(reader.ownerInRack(rack, hash), owner, `${name(rack)} hash ${hash}: same through the shared table`)
  }
})
