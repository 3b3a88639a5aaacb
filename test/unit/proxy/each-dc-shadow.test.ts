// While a token move settles (handoff_grace), a write's old owner gets it too (a shadow replica), whatever the consistency level:
// DC_EACH_SAFE_QUORUM writes included (they used to skip it). Mock peers and a mock datastore, no dynoproxy process.
import t from 'tap'
import { parseConfig, createClusterTable, topologyFromConfig } from '../../../src/config/index.ts'
import { ClusterRuntime } from '../../../src/proxy/routing/cluster-runtime.ts'
import { keyRoute, routeToReplicas } from '../../../src/proxy/routing/cluster-walk.ts'
import { RESP_ADAPTER } from '../../../src/proxy/protocol-adapter.ts'
import { ReplicationRing, PeerStates, PEER_UP } from '../../../src/peer/index.ts'
import { TopologyWriter } from '../../../src/topology/index.ts'
import { newPeerLink, type BackendServer, type Request } from '../../../src/io/index.ts'
import { MockBackend, resp } from '../../helpers/mock-backend.ts'
import { FakeSession, respServer, stats, SETTINGS, ticker } from './backend-harness.ts'

// dc1 r1: this node (token 100) and J (token 50), J just joined (settling): key hash 42 is J's now, this node's before.
// dc2 r1: C. DC_EACH_SAFE_QUORUM asks J and C; this node's own datastore gets the write as the old owner.
const mocks = { local: await MockBackend.start('resp'), J: await MockBackend.start('dnode'), C: await MockBackend.start('dnode') }
t.teardown(() => Promise.all(Object.values(mocks).map((m) => m.close())))
for (const m of Object.values(mocks)) m.handler = () => ({ reply: resp.ok })
const config = parseConfig(`
n:
  datacenter: dc1
  rack: r1
  listen: 127.0.0.1:1
  dyn_listen: 127.0.0.1:2
  tokens: '100'
  servers:
  - 127.0.0.1:${mocks.local.port}:1
  dyn_seeds:
  - 127.0.0.1:${mocks.J.port}:r1:dc1:50
  - 127.0.0.1:${mocks.C.port}:r1:dc2:100
`, 'shadow.yml').pools[0]!
const snap = topologyFromConfig(config)
const j = snap.nodes.findIndex((n) => n.peerPort === mocks.J.port)
t.ok(j > 0, 'J is in the topology')
snap.nodes[j]!.settling = true
const topology = createClusterTable(snap)
new TopologyWriter(topology).publish(snap)
const states = PeerStates.create(3)
for (let i = 1; i < 3; i++) states.setState(i, PEER_UP)
const ring = ReplicationRing.create(1 << 16)
const local = respServer(mocks.local.port)
const links: BackendServer[] = []
const cl = new ClusterRuntime(() => config, { ring: ring.sab, peerStates: states.sab, topology }, null, new Float64Array(64), [1, 2].map(() => stats()),
  (node, sameDc, s) => {
    const link = newPeerLink(node, sameDc, SETTINGS, 1 << 20, s, () => null)
    links.push(link)
    return link
  }, () => local)
ticker(t, [local, ...links])

class Session extends FakeSession {
  override enqueue(req: Request): void {
    super.enqueue(req)
    this.labels.set(req, 'w')
  }
}

async function received(m: MockBackend, n: number): Promise<boolean> {
  const until = Date.now() + 5000
  while (m.received.length < n) {
    if (Date.now() > until) return false
    await new Promise((r) => setTimeout(r, 5))
  }
  return true
}

const SET = resp.command('SET', 'k', 'v')

for (const level of ['DC_ONE', 'DC_EACH_SAFE_QUORUM']) {
  t.test(`${level} write while a join settles: the new owner answers, the old owner (this node's datastore) gets it too`, async (t) => {
    const before = { local: mocks.local.received.length, J: mocks.J.received.length }
    const s = new Session()
    const r = keyRoute.key(Buffer.from('k'), 0, 1, 42).payload(SET, 0, SET.length, true, 0, 0, -1)
    routeToReplicas(s, cl, cl.current(), level, r, RESP_ADAPTER.words)
    const [a] = await s.waitFor(['w'])
    t.equal(a!.text, '+OK\r\n', 'answered OK')
    t.ok(await received(mocks.J, before.J + 1), 'J (the owner now) got the write')
    t.ok(await received(mocks.local, before.local + 1), 'this node\'s datastore (the owner before the move) got it as a shadow')
  })
}
