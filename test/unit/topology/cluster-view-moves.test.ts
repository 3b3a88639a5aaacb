// Token moves in ClusterView: joining nodes stay out of the routing ring but get every write of their future range as a shadow replica,
// settling (just joined) nodes route while their old owner shadows, leaving nodes route while their successor shadows, left ones
// shadow until they settle; shadows come after every other replica and only for writes (SCOPE_ALL).
import t from 'tap'
import { ClusterView, NODE_STATE, ReplicaSet, SCOPE_ALL, SCOPE_LOCAL_DC, TIER_SHADOW, parseDynToken, type TopologySnapshot } from '../../../src/topology/index.ts'

function view(b: { state: number; settling?: boolean }): ClusterView {
  const snap: TopologySnapshot = {
    datacenters: ['dc1'],
    racks: [{ name: 'r1', dc: 0 }, { name: 'r2', dc: 0 }],
    nodes: [
      { host: 'a', rack: 0, clientPort: 1, peerPort: 10, state: NODE_STATE.NORMAL, isLocal: true, tokens: [parseDynToken('100')] },
      { host: 'b', rack: 0, clientPort: 1, peerPort: 11, state: b.state, isLocal: false, tokens: [parseDynToken('2000000000')], ...(b.settling === true ? { settling: true } : {}) },
      { host: 'c', rack: 1, clientPort: 1, peerPort: 12, state: NODE_STATE.NORMAL, isLocal: false, tokens: [parseDynToken('100')] },
    ],
  }
  return new ClusterView(snap)
}

const IN_B = 1000 // owned by b's token when b is in the ring; by a (the wrap) otherwise
const set = new ReplicaSet()
const list = (v: ClusterView, h: number, scope = SCOPE_ALL): string[] => {
  const n = v.replicasFor(h, scope, set)
  return Array.from({ length: n }, (_, i) => `${v.nodes[set.node[i]!]!.host}${set.tier[i] === TIER_SHADOW ? '*' : ''}`)
}

t.test('no move: no shadow ring, no shadow replica', async (t) => {
  const v = view({ state: NODE_STATE.NORMAL })
  t.notOk(v.moving)
  t.same(list(v, IN_B), ['b', 'c'])
})

t.test('joining: reads and writes go to the old owner, the joining node shadows writes', async (t) => {
  const v = view({ state: NODE_STATE.JOINING })
  t.ok(v.moving)
  t.same(list(v, IN_B), ['a', 'c', 'b*'])
  t.same(list(v, IN_B, SCOPE_LOCAL_DC), ['a', 'c'], 'reads never see the shadow')
  t.same(list(v, 3_000_000_000), ['a', 'c'], 'keys that do not move get no shadow')
})

t.test('settling after a join: the new owner routes, the old owner shadows', async (t) => {
  t.same(list(view({ state: NODE_STATE.NORMAL, settling: true }), IN_B), ['b', 'c', 'a*'])
})

t.test('leaving: it routes, its successor shadows; left and settling: the reverse; left and settled: gone', async (t) => {
  t.same(list(view({ state: NODE_STATE.LEAVING }), IN_B), ['b', 'c', 'a*'])
  t.same(list(view({ state: NODE_STATE.LEFT, settling: true }), IN_B), ['a', 'c', 'b*'])
  const gone = view({ state: NODE_STATE.LEFT })
  t.notOk(gone.moving)
  t.same(list(gone, IN_B), ['a', 'c'])
})
