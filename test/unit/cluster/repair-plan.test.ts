// Anti-entropy's decisions: the majority of racks wins (absence included), two racks copy missing keys both ways, a tie is a conflict;
// a later look that saw something else is unstable; ranges split evenly; digest tables add and compare by bucket. Pure.
import t from 'tap';
import { decide, stable, bucketsFor, splitRanges, addTable, compareTables, type KeyState } from '../../../src/cluster/repair-plan.ts';

const A: KeyState = { present: false };
const v = (digest: string, expireAt = -1): KeyState => ({ present: true, digest, expireAt });

t.test('majority of racks', async (t) => {
  t.same(decide([v('a'), v('a'), v('a')]), { kind: 'equal' });
  t.same(decide([v('a', 5000), v('a', 5000), v('a', 5500)]), { kind: 'equal' }, 'expiry within the tolerance is the same');
  t.same(decide([v('a'), v('a'), v('b')]), { kind: 'repair', from: 0, to: [2] }, 'a different value');
  t.same(decide([v('a'), A, v('a')]), { kind: 'repair', from: 0, to: [1] }, 'a missing key');
  t.same(decide([A, v('x'), A]), { kind: 'repair', from: null, to: [1] }, 'a key only one rack of three holds is deleted');
  t.same(decide([v('a'), v('a', 600_000), v('a')]), { kind: 'repair', from: 0, to: [1] }, 'a TTL only one rack has');
  t.same(decide([v('a'), v('b'), v('c')]), { kind: 'conflict' }, 'three values');
  t.same(decide([v('a'), v('b'), A]), { kind: 'conflict' }, 'two values and a missing key');
  t.same(decide([v('a'), v('a'), v('b'), A]), { kind: 'repair', from: 0, to: [2, 3] }, 'four racks: the value most racks hold');
  t.same(decide([v('a'), v('b'), A, A]), { kind: 'conflict' }, 'four racks, a tie between values');
});

t.test('two racks: missing keys go both ways; differing values are conflicts', async (t) => {
  t.same(decide([v('a'), A]), { kind: 'repair', from: 0, to: [1] });
  t.same(decide([A, v('a')]), { kind: 'repair', from: 1, to: [0] });
  t.same(decide([v('a'), v('b')]), { kind: 'conflict' });
});

t.test('stable: the second look saw what the first did (a digest prefix against the full one)', async (t) => {
  t.ok(stable(v('abcd'), v('abcdef012')));
  t.notOk(stable(v('abcd'), v('abce99')));
  t.notOk(stable(A, v('a')));
  t.ok(stable(A, A));
  t.notOk(stable(v('a', 1000), v('a', 60_000)));
});

t.test('buckets, splits, tables', async (t) => {
  t.equal(bucketsFor(0), 16);
  t.equal(bucketsFor(100_000), 32_768);
  t.equal(bucketsFor(10_000_000), 65_536);
  t.same(splitRanges([0, 99], 1), [[0, 99]]);
  t.same(splitRanges([0, 99], 4), [[0, 24], [25, 49], [50, 74], [75, 99]]);
  t.same(splitRanges([0, 9, 20, 29], 2), [[0, 9], [20, 29]]);
  t.same(splitRanges([0, 9, 20, 29], 3), [[0, 6], [7, 9, 20, 23], [24, 29]]);
  const a = Buffer.alloc(24);
  const b = Buffer.alloc(24);
  a.writeUInt32LE(2, 0);
  a.writeBigUInt64LE(2n ** 64n - 1n, 4);
  b.writeUInt32LE(1, 0);
  b.writeBigUInt64LE(2n, 4);
  const sum = Buffer.alloc(24);
  addTable(sum, a);
  addTable(sum, b);
  t.equal(sum.readUInt32LE(0), 3);
  t.equal(sum.readBigUInt64LE(4), 1n, 'digests add mod 2^64');
  const other = Buffer.from(sum);
  other.writeUInt32LE(1, 12);
  t.same(compareTables([sum, Buffer.from(sum)]), { differing: [], keys: 3 });
  t.same(compareTables([sum, other]), { differing: [1], keys: 4 });
});
