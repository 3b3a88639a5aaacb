// The cluster routing shapes (routing/cluster-walk.ts, read-failover.ts) against scriptable mock peers and a mock datastore: who gets
// a DC_ONE write and its replicas, the remote DC's fallback rack, quorum and safe quorum, read failover. No dynoproxy process.

import t from 'tap'
import { parseConfig } from '../../../src/config/index.ts'
import { ClusterRuntime } from '../../../src/proxy/routing/cluster-runtime.ts'
import { keyRoute, routeToReplicas } from '../../../src/proxy/routing/cluster-walk.ts'
import { RESP_ADAPTER } from '../../../src/proxy/protocol-adapter.ts'
import { ReplicationRing, PeerStates, PEER_DOWN, PEER_UP } from '../../../src/peer/index.ts'
import { createClusterTable, topologyFromConfig } from '../../../src/config/index.ts'
import { TopologyWriter } from '../../../src/topology/index.ts'
import { newPeerLink, type BackendServer, type Request } from '../../../src/io/index.ts'
import { P } from '../../../src/stats/index.ts'
import { MockBackend, resp, type MockHandler } from '../../helpers/mock-backend.ts'
import { FakeSession, respServer, stats, SETTINGS, ticker } from './backend-harness.ts'

const words = RESP_ADAPTER.words
// One node per rack, so every rack's owner of any hash is its only node: dc1 r1 (this node), r2 (A), r3 (B); dc2 r1 (C), r2 (D).
const mocks = { local: await MockBackend.start('resp'), A: await MockBackend.start('dnode'), B: await MockBackend.start('dnode'), C: await MockBackend.start('dnode'), D: await MockBackend.start('dnode') }
t.teardown(() => Promise.all(Object.values(mocks).map((m) => m.close())))
const yaml = `
n:
  datacenter: dc1
  rack: r1
  listen: 127.0.0.1:1
  dyn_listen: 127.0.0.1:2
  tokens: '100'
  servers:
  - 127.0.0.1:${mocks.local.port}:1
  dyn_seeds:
  - 127.0.0.1:${mocks.A.port}:r2:dc1:100
  - 127.0.0.1:${mocks.B.port}:r3:dc1:100
  - 127.0.0.1:${mocks.C.port}:r1:dc2:100
  - 127.0.0.1:${mocks.D.port}:r2:dc2:100
`
const config = parseConfig(yaml, 'walk.yml').pools[0]!
const snap = topologyFromConfig(config)
const topology = createClusterTable(snap)
new TopologyWriter(topology).publish(snap)
const states = PeerStates.create(5)
for (let i = 1; i < 5; i++) states.setState(i, PEER_UP)
const ring = ReplicationRing.create(1 << 16)
const local = respServer(mocks.local.port)
let localUp = true
const st = new Float64Array(64)
const links: BackendServer[] = []
const cl = new ClusterRuntime(
  () => config,
  { ring: ring.sab, peerStates: states.sab, topology },
  null,
  st,
  [1, 2, 3, 4].map(() => stats()),
  (node, sameDc, s) => {
    const link = newPeerLink(node, sameDc, SETTINGS, 1 << 20, s, () => null)
    links.push(link)
    return link
  },
  () => (localUp ? local : null),
)
ticker(t, [local, ...links])
const NODE = { A: 1, B: 2, C: 3, D: 4 }

function reply(text: string): MockHandler {
  return () => ({ reply: text })
}
for (const m of [mocks.local, mocks.A, mocks.B, mocks.C, mocks.D]) m.handler = reply(resp.ok)

/** A session that names each request by the label of the route that queued it (an answer may come before routing returns). */
class Session extends FakeSession {
  next = '?'
  override enqueue(req: Request): void {
    super.enqueue(req)
    this.labels.set(req, this.next)
  }
}

/** Route one request as a client's; `label` names its answer in the session. */
function route(session: Session, label: string, bytes: Buffer, write: boolean, level: string): void {
  const key = Buffer.from('k')
  session.next = label
  const r = keyRoute.key(key, 0, 1, 42).payload(bytes, 0, bytes.length, write, 0, 0, -1)
  routeToReplicas(session, cl, cl.current(), level, r, words)
}

/** The ring records (node, payload) queued for the cluster worker since the last call. */
function drained(): [number, string][] {
  const out: [number, string][] = []
  ring.drain((node, buf, s, e) => out.push([node, Buffer.from(buf.subarray(s, e)).toString('latin1')]))
  return out
}

const SET = resp.command('SET', 'k', 'v')
const GET = resp.command('GET', 'k')

t.test('DC_ONE write: the local owner answers; the other local racks get it as REQ, one rack of dc2 through the ring', async (t) => {
  const s = new Session()
  route(s, 'w1', SET, true, 'DC_ONE')
  const [a] = await s.waitFor(['w1'])
  t.equal(a!.text, '+OK\r\n')
  await t.resolveMatch(waitReceived(mocks.A, 1).then(() => mocks.A.received.length), 1, 'rack r2 got the replica')
  await waitReceived(mocks.B, 1)
  t.equal(mocks.local.received.length, 1)
  t.same(drained(), [[NODE.C, SET.toString('latin1')]], 'dc2: its rack named like ours (r1 = C) through the ring')
})

t.test('the remote DC\'s chosen rack down: its next rack (D) gets the write', async (t) => {
  states.setState(NODE.C, PEER_DOWN)
  try {
    const s = new Session()
    route(s, 'w2', SET, true, 'DC_ONE')
    await s.waitFor(['w2'])
    t.same(drained(), [[NODE.D, SET.toString('latin1')]])
  } finally {
    states.setState(NODE.C, PEER_UP)
  }
})

t.test('DC_QUORUM read: answered once two of the three local racks agree, before the third', async (t) => {
  mocks.B.handler = () => ({ reply: resp.bulk('x'), delayMs: 1500 })
  mocks.A.handler = reply(resp.bulk('x').toString('latin1'))
  mocks.local.handler = reply(resp.bulk('x').toString('latin1'))
  const s = new Session()
  const started = performance.now()
  route(s, 'q', GET, false, 'DC_QUORUM')
  const [a] = await s.waitFor(['q'])
  t.equal(a!.text, '$1\r\nx\r\n')
  t.ok(a!.at - started < 1200, 'did not wait for the slow rack')
  t.same(drained(), [], 'a read is not replicated')
})

t.test('DC_SAFE_QUORUM read: three different values is no quorum', async (t) => {
  mocks.local.handler = reply(resp.bulk('a').toString('latin1'))
  mocks.A.handler = reply(resp.bulk('b').toString('latin1'))
  mocks.B.handler = reply(resp.bulk('c').toString('latin1'))
  const s = new Session()
  route(s, 'sq', GET, false, 'DC_SAFE_QUORUM')
  const [a] = await s.waitFor(['sq'])
  t.equal(a!.text, words.noQuorum.toString('latin1'))
})

t.test('read failover: this node\'s datastore gone, the next local rack answers; every owner down, the peer-down words', async (t) => {
  mocks.A.handler = reply(resp.bulk('from-A').toString('latin1'))
  const before = st[P.read_failovers_total]!
  localUp = false
  try {
    const s = new Session()
    route(s, 'f1', GET, false, 'DC_ONE')
    const [a] = await s.waitFor(['f1'])
    t.equal(a!.text, '$6\r\nfrom-A\r\n', 'rack r2 answered')
    t.equal(st[P.read_failovers_total], before + 1, 'counted')
    for (const n of [NODE.A, NODE.B, NODE.C, NODE.D]) states.setState(n, PEER_DOWN)
    const s2 = new Session()
    route(s2, 'f2', GET, false, 'DC_ONE')
    const [b] = await s2.waitFor(['f2'])
    t.match(b!.text, /^-ERR Storage: no datastore is available/, 'no replica left: the owner\'s own failure, as it is')
  } finally {
    localUp = true
    for (const n of [NODE.A, NODE.B, NODE.C, NODE.D]) states.setState(n, PEER_UP)
  }
})

async function waitReceived(m: MockBackend, n: number): Promise<void> {
  const until = Date.now() + 5000
  while (m.received.length < n) {
    if (Date.now() > until) throw new Error(`mock got ${m.received.length} of ${n}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
