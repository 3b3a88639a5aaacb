// Membership merge rules: versions decide, a stale record never overwrites a newer one, and what would corrupt the ring (a token or an
// address of a live node, floods, malformed host fields) is refused with membership unchanged; the snapshot keeps node slots stable.
import t from 'tap'
import { Membership, encodeHostField, parseHostField, type MembershipLimits } from '../../../src/cluster/membership.ts'
import { NODE_STATE, parseDynToken, type TopologySnapshot } from '../../../src/topology/index.ts'
import type { GossipNodeRecord } from '../../../src/protocol/dnode/index.ts'

const LIMITS: MembershipLimits = { maxNodes: 8, maxTokensPerNode: 4, maxRecords: 64, maxTotalTokens: 64, maxStringBytes: 4096 }

function configured(): { snap: TopologySnapshot; tokens: string[][] } {
  const tokens = [['100'], ['200'], ['100']]
  return {
    tokens,
    snap: {
      datacenters: ['dc1'],
      racks: [{ name: 'r1', dc: 0 }, { name: 'r2', dc: 0 }],
      nodes: [
        { host: '127.0.0.1', rack: 0, clientPort: 9000, peerPort: 9001, state: NODE_STATE.NORMAL, isLocal: true, tokens: [parseDynToken('100')] },
        { host: '127.0.0.1', rack: 0, clientPort: 0, peerPort: 9011, state: NODE_STATE.NORMAL, isLocal: false, tokens: [parseDynToken('200')] },
        { host: '127.0.0.1', rack: 1, clientPort: 0, peerPort: 9021, state: NODE_STATE.NORMAL, isLocal: false, tokens: [parseDynToken('100')] },
      ],
    },
  }
}

function rec(port: number, token: string, ts: number, over: Partial<GossipNodeRecord> = {}): GossipNodeRecord {
  return { dc: 'dc1', rack: 'r1', token, timestamp: ts, state: NODE_STATE.NORMAL, host: encodeHostField('127.0.0.1', port, port - 1), ...over }
}

const all = (): boolean => true
const none = (): boolean => false

t.test('host fields: ours carry both ports, Dynomite\'s the host alone, IPv6 in brackets', async (t) => {
  t.same(parseHostField(encodeHostField('10.0.0.1', 8101, 8102), 1), { host: '10.0.0.1', peerPort: 8101, clientPort: 8102 })
  t.same(parseHostField(encodeHostField('::1', 8101, 8102), 1), { host: '::1', peerPort: 8101, clientPort: 8102 })
  t.same(parseHostField('127.0.0.1', 8101), { host: '127.0.0.1', peerPort: 8101, clientPort: 0 })
  t.equal(parseHostField('a:b:c', 1), null)
  t.equal(parseHostField('h:0', 1), null)
  t.equal(parseHostField('h:70000', 1), null)
})

t.test('a new node is appended; a newer version updates it; a stale or equal one never does', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  const r1 = m.merge([rec(9031, '300', 5000)], all)
  t.ok(r1.changed)
  t.same(r1.added, [3])
  t.equal(m.members[3].clientPort, 9030)
  const r2 = m.merge([rec(9031, '300', 6000, { state: NODE_STATE.STANDBY })], all)
  t.ok(r2.changed)
  t.equal(m.members[3].state, NODE_STATE.STANDBY)
  const r3 = m.merge([rec(9031, '300', 5500, { state: NODE_STATE.NORMAL })], all)
  t.notOk(r3.changed)
  t.equal(r3.stale, 1)
  t.equal(m.members[3].state, NODE_STATE.STANDBY, 'the older record did not win')
  t.equal(m.merge([rec(9031, '300', 6000, { state: NODE_STATE.NORMAL })], all).stale, 1, 'equal version: ignored')
  const s = m.snapshot(() => false)
  t.equal(s.nodes.length, 4)
  t.same(s.nodes.map((n) => n.peerPort), [9001, 9011, 9021, 9031], 'slots keep their order')
})

t.test('a heartbeat about this node never changes it; a newer one moves our version past it (restart)', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  const r = m.merge([rec(9001, '999', 50_000, { rack: 'r9' })], all)
  t.notOk(r.changed)
  t.same(m.local.tokens, ['100'])
  t.equal(m.local.version, 50_001)
  m.beat(10)
  t.equal(m.local.version, 50_002, 'the version only moves forward')
})

t.test('a token owned by a live node of the same rack is refused; a dead owner is taken over (replace)', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  const r = m.merge([rec(9041, '200', 5000)], all)
  t.notOk(r.changed)
  t.equal(r.refused[0].reason, 'token-owned')
  t.equal(m.members.length, 3, 'membership unchanged')
  t.equal(m.merge([rec(9041, '100', 5000)], all).refused[0].reason, 'token-owned', 'this node\'s own token')
  t.ok(m.merge([rec(9041, '100', 5000, { rack: 'r3' })], all).changed, 'the same token in another rack is fine')
  const taken = m.merge([rec(9051, '200', 5000)], (i) => i !== 1)
  t.ok(taken.changed)
  t.ok(m.members[1].removed, 'the dead owner left the ring')
  t.same(m.snapshot(() => false).nodes[1].tokens, [])
})

t.test('an address held by a live node cannot be claimed with other tokens; a dead one can', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  const r = m.merge([rec(9011, '777', 5000)], all)
  t.equal(r.refused[0].reason, 'address-claimed')
  t.same(m.members[1].tokens, ['200'])
  t.ok(m.merge([rec(9011, '777', 5000)], none).changed)
  t.same(m.members[1].tokens, ['777'])
})

t.test('a node that left the ring may come back joining with other tokens (a ring move); its old tokens are nobody\'s', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  t.ok(m.merge([rec(9011, '200', 5000, { state: NODE_STATE.LEFT })], all).changed, 'node 1 left')
  t.equal(m.merge([rec(9011, '100', 6000, { state: NODE_STATE.JOINING })], all).refused[0].reason, 'token-owned', 'not with a live node\'s token')
  t.equal(m.merge([rec(9011, '300', 5000, { state: NODE_STATE.JOINING })], all).stale, 1, 'not in an older version')
  t.equal(m.merge([rec(9011, '300', 6000, { state: NODE_STATE.LEFT })], all).refused[0].reason, 'address-claimed', 'a LEFT record does not move a live node')
  const r = m.merge([rec(9011, '300', 6000, { state: NODE_STATE.JOINING })], all)
  t.ok(r.changed)
  t.same(r.refused, [])
  t.same(m.members[1].tokens, ['300'])
  t.equal(m.members[1].state, NODE_STATE.JOINING)
  t.equal(m.members.length, 3, 'the same slot')
  t.equal(m.merge([rec(9011, '400', 7000, { state: NODE_STATE.NORMAL })], all).refused[0].reason, 'address-claimed', 'once back, it keeps its place again')
  // Its old token is free now: a node joining with it is no conflict (node 1 is no longer listed with it).
  t.ok(m.merge([rec(9041, '200', 5000, { state: NODE_STATE.JOINING })], all).changed)
})

t.test('a live node that left holds no token another node may not claim', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  m.merge([rec(9011, '200', 5000, { state: NODE_STATE.LEFT })], all)
  const r = m.merge([rec(9041, '200', 5000, { state: NODE_STATE.JOINING })], all)
  t.ok(r.changed, 'a joiner may take the token of a node that left')
  t.notOk(m.members[1].removed, 'the node that left keeps its slot (it is alive)')
  m.setLocalState(NODE_STATE.LEFT, 2000)
  t.ok(m.merge([rec(9051, '100', 5000, { state: NODE_STATE.JOINING })], all).changed, 'nor does this node once it left')
  m.setLocalTokens(['150'], 3000)
  t.same(m.local.tokens, ['150'])
  t.ok(m.local.version >= 3000)
})

t.test('floods, too many nodes, malformed groups and nodes gossiping themselves down are refused', async (t) => {
  const { snap, tokens } = configured()
  const m = new Membership(snap, tokens, 1000, LIMITS)
  const flood = Array.from({ length: 65 }, (_, i) => rec(10_000 + i, String(1000 + i), 5000))
  t.equal(m.merge(flood, all).refused[0].reason, 'flood')
  t.equal(m.members.length, 3)
  t.equal(m.merge(['1', '2', '3', '4', '5'].map((tk) => rec(9061, tk, 5000)), all).refused[0].reason, 'flood', 'too many tokens for one node')
  t.equal(m.merge([rec(9071, '1', 5000), rec(9071, '2', 5001)], all).refused[0].reason, 'malformed', 'records of one node disagree')
  t.equal(m.merge([rec(9081, '1', 5000, { state: NODE_STATE.DOWN })], all).refused[0].reason, 'bad-node')
  t.equal(m.merge([rec(9091, '1', 5000, { host: 'x:y' })], all).refused[0].reason, 'malformed')
  for (let i = 0; i < 5; i++) t.ok(m.merge([rec(11_000 + i, String(5000 + i), 5000)], all).changed)
  t.equal(m.merge([rec(12_000, '9999', 5000)], all).refused[0].reason, 'too-many-nodes')
  t.equal(m.members.length, 8)
})

t.test('records() describes every node with one record per token, and merge() of them elsewhere reproduces the view', async (t) => {
  const { snap, tokens } = configured()
  const a = new Membership(snap, tokens, 1000, LIMITS)
  a.merge([rec(9031, '300', 5000), rec(9031, '400', 5000)], all)
  const other: TopologySnapshot = { ...snap, nodes: snap.nodes.map((n, i) => ({ ...n, isLocal: i === 1 })) }
  const b = new Membership(other, tokens, 1000, LIMITS)
  const r = b.merge(a.records(), all)
  t.ok(r.changed)
  t.same(b.members.map((x) => `${x.peerPort}:${x.tokens.join(',')}`), a.members.map((x) => `${x.peerPort}:${x.tokens.join(',')}`))
  t.equal(b.members[0].version, 1000, 'a learned the version node 0 gossiped')
})
