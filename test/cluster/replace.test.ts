// Replace on real processes: a node dies for good; a new node at another address, started with its token and join: true, takes the
// token over (its peers see the old owner down) and warms up from the other rack; no read through it answers nil meanwhile, and
// afterwards its datastore holds every key of the range. While the old owner is alive, the same claim is refused.
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { rackTokens } from '../helpers/cluster-ring.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

// rack1: A; rack2: B, and N (started later) with B's token at another address.
const bToken = rackTokens(2)[0]!
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 2 }] }],
  seeds: (_n, i) => (i === 0 ? [] : [0]),
  deferStart: [2],
  nodePool: ({ rack, index }) => (rack === 'rack2' && index === 1 ? { tokens: String(bToken), join: true } : rack === 'rack2' ? { tokens: String(bToken) } : {}),
})
const [a, b, n] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]

async function describe(node: ClusterNode): Promise<{ name: string; node_state: string; tokens: string[] }[]> {
  const d = (await (await fetch(`http://127.0.0.1:${node.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { name: string; node_state: string; tokens: string[] }[] }[] }[] }
  return d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers))
}

const KEYS = 2000

t.test('a new node takes over a dead node\'s token and warms up from the other rack', async (t) => {
  const fill = await RespConnection.connect(a.clientPort, { t })
  for (let i = 0; i < KEYS; i += 100) await fill.pipeline(Array.from({ length: 100 }, (_, j) => ['SET', `r:${i + j}`, `v${i + j}`]))
  await waitFor(async () => Number(plain(await b.redis.call('DBSIZE'))) >= KEYS, 20_000, 'rack2 to hold every key')
  await b.kill()
  await waitFor(async () => (await describe(a)).some((s) => s.name === b.peerName && s.node_state === 'down'), 15_000, 'A to see B down')
  await n.start()
  await waitFor(async () => (await describe(a)).some((s) => s.name === n.peerName && s.tokens.includes(String(bToken))), 20_000, 'A to give N the token').catch((err: Error) => {
    throw new Error(`${err.message}\n--- N ---\n${n.output().slice(-2500)}\n--- A ---\n${a.output().slice(-2500)}`)
  })
  // Reads through N while it warms up: never nil (they go to rack1 until N's copy is done).
  const reader = await RespConnection.connect(n.clientPort, { t })
  let nils = 0
  let reads = 0
  await waitFor(async () => {
    for (let i = 0; i < 50; i++) {
      const k = (reads * 37) % KEYS
      reads++
      if (plain(await reader.call(['GET', `r:${k}`])) === null) nils++
    }
    return Number(plain(await n.redis.call('DBSIZE'))) >= KEYS
  }, 60_000, 'N to hold every key')
  t.equal(nils, 0, `no nil among ${reads} reads through N during its warm-up`)
  const info = (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as { gossip?: { join: string } }
  t.equal(info.gossip?.join, 'replacing')
  t.match(n.output(), /replace: this node takes over the tokens of a node that is down/)
  t.notOk((await describe(a)).some((s) => s.name === b.peerName && s.tokens.length > 0), 'B holds no token any more in A\'s view')
  for (let i = 0; i < KEYS; i += 53) t.equal(plain(await n.redis.call('GET', `r:${i}`)), `v${i}`)
})

t.test('a claim on a live node\'s token is refused', async (t) => {
  // A record claiming A's token in rack1 from a new address, while A lives: every node refuses it.
  await waitFor(async () => (await describe(n)).length >= 2, 10_000, 'N to know A')
  const before = await describe(n)
  t.ok(before.some((s) => s.name === a.peerName), 'N lists A')
  const metrics = await (await fetch(`http://127.0.0.1:${a.statsPort}/metrics`)).text()
  t.match(metrics, /gossip_records_refused_total\{reason="token-owned"\} \d+/)
})
