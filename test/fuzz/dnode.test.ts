// Fuzzes a real 2-node cluster's peer port (dyn_listen, dnode frames, peer_secret) as a stranger and as a peer that passed the
// handshake, for a bounded time; after every batch: both nodes alive, the target's RSS bounded, canaries through both nodes intact
// (the legitimate peer link between them keeps working). It must never run past its time share nor leave anything running.

import type net from 'node:net'
import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { BATCH, fileBudgetMs, fuzzConnection, fuzzFor, rssOf, seedNote, SEED } from './fuzz-kit.ts'
import { checkProcess, RedisCanary } from './canary.ts'
import { dnodeCounter, handshake, peerInputArb, strangerInputArb } from './dnode-inputs.ts'
import { respCounter, respInputArb } from './resp-inputs.ts'

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
  const stats = await fuzzFor(t, 'dnode-stranger', fileBudgetMs() * 0.3, strangerInputArb, (input) => fuzzConnection(target.peerPort, input, dnodeCounter, 600), (b) => afterBatch(`stranger batch ${b}`))
  t.comment(`stranger: ${JSON.stringify(stats)}`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'every whole frame from a stranger ended in a close')
})

t.test('peer port after a valid handshake', async (t) => {
  const stats = await fuzzFor(t, 'dnode-peer', fileBudgetMs() * 0.4, peerInputArb, (input) => fuzzConnection(target.peerPort, input, dnodeCounter, 600, handshake(SECRET)), (b) => afterBatch(`peer batch ${b}`))
  t.comment(`peer: ${JSON.stringify(stats)}; RSS ${baselines.map((b, i) => `${(b / 2 ** 20).toFixed(0)} -> peak ${(peak[i]! / 2 ** 20).toFixed(0)} MiB`).join(', ')}`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'every whole REQ frame answered (or the link closed)')
})

/** AUTH on a raw client connection, as the prelude of a fuzz connection to a node's client port. */
function auth(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = ''
    const timer = setTimeout(() => reject(new Error('AUTH not answered')), 8000)
    const onData = (d: Buffer): void => {
      got += d.toString('latin1')
      if (!got.includes('\r\n')) return
      clearTimeout(timer)
      socket.off('data', onData)
      if (got === '+OK\r\n') resolve()
      else reject(new Error(`AUTH: ${got}`))
    }
    socket.on('data', onData)
    socket.write(`*2\r\n$4\r\nAUTH\r\n$${SECRET.length}\r\n${SECRET}\r\n`)
  })
}

t.test('client port of a cluster node (requests forwarded over the peer link and replicated)', async (t) => {
  const stats = await fuzzFor(t, 'cluster-resp', fileBudgetMs() * 0.3, respInputArb, (input) => fuzzConnection(other.clientPort, input, respCounter, 600, auth), (b) => afterBatch(`cluster resp batch ${b}`))
  t.comment(`cluster resp: ${JSON.stringify(stats)}`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'no complete input left unanswered and open')
})
