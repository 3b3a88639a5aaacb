// hashRangesOf: the hash ranges a node owns in its rack agree with the ring's own lookup everywhere (random hashes and every token's
// edges), and the nodes' ranges partition the 32-bit hash space. Pure: rings built in memory.
import t from 'tap';
import { hashRangesOf, intersectHashRanges, hashRangesSize, TokenRing, parseDynToken, type ClusterView } from '../../../src/topology/index.ts';
import { inHashRanges } from '../../../src/protocol/resp/index.ts';

function viewOf(tokens: string[], owners: number[]): ClusterView {
  const ring = new TokenRing(tokens.map(parseDynToken), owners);
  return { racks: [{ ring }] } as unknown as ClusterView;
}

const cases: [string, string[], number[]][] = [
  ['one node', ['101134286'], [0]],
  ['two nodes', ['1073741824', '3221225472'], [0, 1]],
  ['three nodes, several tokens each, one at 0 and one at 2^32-1', ['0', '4294967295', '1000', '2000000000', '77', '3000000000'], [0, 1, 2, 0, 1, 2]],
  ['duplicate tokens', ['500', '500', '9000'], [0, 1, 2]],
];

for (const [name, tokens, owners] of cases) {
  t.test(name, async (t) => {
    const v = viewOf(tokens, owners);
    const ring = v.racks[0].ring;
    const nodes = [...new Set(owners)];
    const ranges = nodes.map((n) => hashRangesOf(v, 0, n));
    t.equal(ranges.reduce((a, r) => a + hashRangesSize(r), 0), 2 ** 32, 'the ranges cover the hash space once');
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) t.same(intersectHashRanges(ranges[i], ranges[j]), [], `nodes ${i} and ${j} do not overlap`);
    const probes = [0, 1, 2, 0xffffffff, 0xfffffffe];
    for (const tk of tokens) for (const d of [-2, -1, 0, 1, 2]) probes.push(Number(tk) + d);
    for (let i = 0; i < 5000; i++) probes.push(Math.floor(Math.random() * 2 ** 32));
    let bad = 0;
    for (const h of probes) {
      if (h < 0 || h > 0xffffffff) continue;
      const owner = ring.lookup(h);
      if (!inHashRanges(ranges[nodes.indexOf(owner)], h)) bad++;
    }
    t.equal(bad, 0, `every probe (${probes.length}) lies in its owner's ranges`);
  });
}

t.test('intersections', async (t) => {
  t.same(intersectHashRanges([0, 10, 20, 30], [5, 25]), [5, 10, 20, 25]);
  t.same(intersectHashRanges([0, 10], [11, 20]), []);
});
