// Tests twemproxy's ketama, modula and random distributions: point layout, weights, order, ejected servers.
// Pure: no processes, no sockets; md5 points are cross-checked against node:crypto.

import { createHash } from 'node:crypto';
import t from 'tap';
import {
  buildKetama, buildModula, buildRandom, KETAMA_POINTS_PER_SERVER, ketamaPointsPerServer, ketamaServerName,
  twemproxyServerOrder,
} from '../../../src/topology/index.ts';
import type { ServerWeight } from '../../../src/topology/index.ts';

const three: ServerWeight[] = [
  { name: '127.0.0.1:6380', weight: 1 },
  { name: '127.0.0.1:6379', weight: 1 },
  { name: 'cache-a', weight: 1 },
];

t.test('ketamaServerName follows twemproxy conf_add_server', async (t) => {
  t.equal(ketamaServerName('10.0.0.1', 6379), '10.0.0.1:6379');
  t.equal(ketamaServerName('10.0.0.1', 11211), '10.0.0.1', 'port 11211 is left out for libmemcached');
  t.equal(ketamaServerName('10.0.0.1', 6379, 'shard-1'), 'shard-1');
  t.equal(ketamaServerName('10.0.0.1', 6379, ''), '10.0.0.1:6379');
  t.equal(ketamaServerName('/tmp/redis.sock', 0), '/tmp/redis.sock:', 'a unix socket keeps the colon');
});

t.test('twemproxy orders servers by name length, then bytes', async (t) => {
  t.same(twemproxyServerOrder(three), [2, 1, 0]);
  const names = ['b', 'aa', 'a'].map((name) => ({ name, weight: 1 }));
  t.same(twemproxyServerOrder(names), [2, 0, 1]);
  t.throws(() => twemproxyServerOrder([{ name: 'x', weight: 1 }, { name: 'x', weight: 2 }]), RangeError);
});

t.test('ketama points per server, in twemproxy\'s single-precision float', async (t) => {
  // Even equal weights lose a group of 4 points at some pool sizes; 25 is checked against nutcracker.
  const short = [25, 47, 50, 55, 61];
  for (let n = 1; n <= 64; n++) {
    t.equal(ketamaPointsPerServer(1, n, n), short.includes(n) ? 156 : KETAMA_POINTS_PER_SERVER, `${n} equal servers`);
  }
  t.equal(ketamaPointsPerServer(1, 6, 3), 80);
  t.equal(ketamaPointsPerServer(3, 6, 3), 240);
  // Double precision would give 232; the nutcracker placement test pins the float result.
  t.equal(ketamaPointsPerServer(29, 60, 3), 228);
});

t.test('ketama continuum layout', async (t) => {
  const ring = buildKetama(three);
  t.equal(ring.kind, 'ketama');
  t.equal(ring.values.length, 3 * 160);
  for (let i = 1; i < ring.values.length; i++) {
    if (ring.values[i - 1] > ring.values[i]) t.fail(`unsorted at ${i}`);
  }
  const counts = [0, 0, 0];
  for (const owner of ring.owners) counts[owner]++;
  t.same(counts, [160, 160, 160]);
  // Every point is one little-endian word of md5("name-k"), computed here independently with node:crypto.
  for (let s = 0; s < three.length; s++) {
    for (let k = 0; k < 40; k++) {
      const digest = createHash('md5').update(`${three[s].name}-${k}`).digest();
      for (let w = 0; w < 4; w++) {
        const at = ring.values.indexOf(digest.readUInt32LE(4 * w));
        if (at === -1 || ring.owners[at] !== s) t.fail(`${three[s].name}-${k} word ${w}`);
      }
    }
  }
  const last = ring.values.length - 1;
  t.equal(ring.lookup(0), ring.owners[0]);
  t.equal(ring.lookup(ring.values[0]), ring.owners[0], 'a point owns its own value');
  t.equal(ring.lookup(ring.values[0] + 1), ring.owners[1], 'and the next point owns the value after it');
  t.equal(ring.lookup(ring.values[last]), ring.owners[last]);
  t.equal(ring.lookup(ring.values[last] + 1), ring.owners[0], 'past the last point wraps to the first');
  t.equal(ring.lookup(0xffffffff), ring.values[last] === 0xffffffff ? ring.owners[last] : ring.owners[0]);
  // Listing the servers in another order moves no point: placement depends on names and weights only.
  const reordered = buildKetama([three[2], three[0], three[1]]);
  t.same([...reordered.values], [...ring.values]);
  t.same([...reordered.owners].map((o) => [2, 0, 1][o]), [...ring.owners]);
});

t.test('ketama with weights and ejected servers', async (t) => {
  const weighted = buildKetama([{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }]);
  const counts = [0, 0];
  for (const owner of weighted.owners) counts[owner]++;
  t.same(counts, [80, 240]);
  const live = [true, false, true];
  const ejected = buildKetama(three, live);
  t.equal(ejected.values.length, 2 * 160, 'nlive = 2');
  t.notOk([...ejected.owners].includes(1), 'an ejected server owns no point');
  for (let h = 0; h < 0xffffffff; h += 0x01000193) if (ejected.lookup(h) === 1) t.fail('lookup hit an ejected server');
  t.equal(buildKetama(three, [false, false, false]).lookup(5), -1, 'no live server');
  t.throws(() => buildKetama([{ name: 'a', weight: 0 }]), RangeError);
  t.throws(() => buildKetama([{ name: 'a', weight: 1.5 }]), RangeError);
  t.throws(() => buildKetama(three, [true]), RangeError);
  t.throws(() => buildKetama([{ name: 'x'.repeat(84), weight: 1 }]), RangeError, 'point names over 85 bytes');
  t.doesNotThrow(() => buildKetama([{ name: 'x'.repeat(82), weight: 1 }]), '"x...x-39" is 85 bytes');
});

t.test('modula: one slot per unit of weight, in twemproxy\'s server order', async (t) => {
  const servers: ServerWeight[] = [{ name: 'bb', weight: 2 }, { name: 'a', weight: 1 }, { name: 'cc', weight: 3 }];
  const modula = buildModula(servers);
  t.equal(modula.kind, 'modula');
  t.same([...modula.slots], [1, 0, 0, 2, 2, 2]);
  for (let h = 0; h < 24; h++) t.equal(modula.lookup(h), modula.slots[h % 6]);
  t.equal(modula.lookup(0xffffffff), modula.slots[0xffffffff % 6]);
  t.same([...buildModula(servers, [true, false, true]).slots], [0, 0, 2, 2, 2]);
  t.equal(buildModula(servers, [false, false, false]).lookup(1), -1);
});

t.test('random: ignores hash and weight, picks only live servers', async (t) => {
  const random = buildRandom([{ name: 'a', weight: 5 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }],
    [true, true, false]);
  t.equal(random.kind, 'random');
  const seen = [0, 0, 0];
  for (let i = 0; i < 2000; i++) seen[random.lookup(7)]++;
  t.equal(seen[2], 0, 'never the ejected server');
  t.ok(seen[0] > 800 && seen[1] > 800, `roughly even whatever the weights: ${seen}`);
  t.equal(buildRandom([{ name: 'a', weight: 1 }], [false]).lookup(1), -1);
});
