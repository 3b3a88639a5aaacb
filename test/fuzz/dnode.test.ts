// Fuzzes a real 2-node cluster's peer port (dyn_listen, dnode frames, peer_secret) as a stranger and as a peer that passed the
// handshake, for a bounded time; after every batch: both nodes alive, the target's RSS bounded, canaries through both nodes intact
// (the legitimate peer link between them keeps working). It must never run past its time share nor leave anything running.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { BATCH, fileBudgetMs, fuzzConnection, fuzzFor, rssOf, seedNote, SEED } from './fuzz-kit.ts'
import { checkProcess, RedisCanary } from './canary.ts'
import { dnodeCounter, handshake, peerInputArb, strangerInputArb } from './dnode-inputs.ts'

t.setTimeout(fileBudgetMs() + 120_000)
t.comment(seedNote('dnode'))
const SECRET = 'fuzz-peer-and-client-pw'
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  redisPassword: SECRET,
  timeoutMs: 4000,
  pool: { requirepass: SECRET, max_peer_connections: 4 * BATCH },
})
const target = cluster.node('dc1', 'rack1', 1)
const other = cluster.node('dc1', 'rack1', 0)
const watched = [target, other].map((n) => ({ pid: n.proxy!.pid, output: () => n.output(), name: `node ${n.name}` }))

// One canary per node, each over both nodes' keys: the one on `other` goes through the peer link to `target`.
const canaries = [target, other].map((n) => new RedisCanary(n.clientPort, Array.from({ length: 12 }, (_, i) => `canary:${SEED}:${n.index}:${i}`), SECRET))
for (const c of canaries) await c.start()
t.teardown(() => canaries.forEach((c) => c.close()))
const baselines = watched.map((w) => rssOf(w.pid))
const peak = [...baselines]

async function afterBatch(where: string): Promise<void> {
  watched.forEach((w, i) => (peak[i] = Math.max(peak[i]!, checkProcess(t, w, baselines[i]!, where))))
  for (const [i, c] of canaries.entries()) {
    const wrong = await c.verify()
    if (wrong !== null) t.fail(`canary through node ${i === 0 ? target.name : other.name} (${where}, seed ${SEED}): ${wrong}`)
  }
}

t.test('peer port before the handshake (a stranger)', async (t) => {
  const stats = await fuzzFor(t, 'dnode-stranger', fileBudgetMs() * 0.4, strangerInputArb, (input) => fuzzConnection(target.peerPort, input, dnodeCounter, 600), (b) => afterBatch(`stranger batch ${b}`))
  t.comment(`stranger: ${JSON.stringify(stats)}`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'every whole frame from a stranger ended in a close')
})

t.test('peer port after a valid handshake', async (t) => {
  const stats = await fuzzFor(t, 'dnode-peer', fileBudgetMs() * 0.6, peerInputArb, (input) => fuzzConnection(target.peerPort, input, dnodeCounter, 600, handshake(SECRET)), (b) => afterBatch(`peer batch ${b}`))
  t.comment(`peer: ${JSON.stringify(stats)}; RSS ${baselines.map((b, i) => `${(b / 2 ** 20).toFixed(0)} -> peak ${(peak[i]! / 2 ** 20).toFixed(0)} MiB`).join(', ')}`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'every whole REQ frame answered (or the link closed)')
})
