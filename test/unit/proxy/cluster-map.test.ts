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

t.test('peer_compat: a seed\'s own option, else the pool\'s; this node is dynoproxy', async (t) => {
  t.same(map.nodes.map((n) => n.compat), ['dynoproxy', 'dynoproxy', 'dynoproxy', 'dynoproxy', 'dynoproxy', 'dynoproxy'], 'by default every node');
  t.equal(map.hasDynomite, false);
  const mixed = yaml.replace('  - 127.0.0.1:9301:r1:dc1:1000', '  - 127.0.0.1:9301:r1:dc1:1000 peer_compat=dynomite');
  const m1 = new ClusterMap(parseConfig(mixed, 'cluster.yml').pools[0]);
  t.same(m1.nodes.map((n) => n.compat), ['dynoproxy', 'dynoproxy', 'dynomite', 'dynoproxy', 'dynoproxy', 'dynoproxy']);
  t.same([...m1.dynomite], [0, 0, 1, 0, 0, 0]);
  t.equal(m1.hasDynomite, true);
  const all = mixed.replace('  hash_tag: "{}"', '  hash_tag: "{}"\n  peer_compat: dynomite').replace('9601:r2:dc2:7', '9601:r2:dc2:7 peer_compat=dynoproxy');
  const m2 = new ClusterMap(parseConfig(all, 'cluster.yml').pools[0]);
  t.same(m2.nodes.map((n) => n.compat), ['dynoproxy', 'dynomite', 'dynomite', 'dynomite', 'dynomite', 'dynoproxy'], 'the pool\'s default, a seed overriding it');
});
