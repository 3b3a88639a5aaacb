// Leave (decommission) on real processes: a node of a rack of two leaves under write and read load; its keys reach its successor,
// every acknowledged write is there afterwards, no read of an existing key answers nil; a node that left stays out when started again
// with its old config; the last node of a rack cannot leave.
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { RespConnection, getEach } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const GRACE = 3000
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  pool: { handoff_grace: GRACE },
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]

const post = (n: ClusterNode, path: string): Promise<Response> => fetch(`http://127.0.0.1:${n.statsPort}${path}`, { method: 'POST' })
async function states(n: ClusterNode): Promise<Record<string, string>> {
  const d = (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { name: string; node_state: string }[] }[] }[] }
  return Object.fromEntries(d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => [s.name, s.node_state]))))
}
async function safe(p: Promise<Parameters<typeof plain>[0]>): Promise<unknown> {
  try {
    return plain(await p)
  } catch (err) {
    return { error: (err as Error).message }
  }
}

const FILLED = 3000

t.test('a node leaves under load: its keys reach its successor, nothing lost, no nil read', async (t) => {
  const fill = await RespConnection.connect(n0.clientPort, { t })
  for (let i = 0; i < FILLED; i += 100) await fill.pipeline(Array.from({ length: 100 }, (_, j) => ['SET', `pre:${i + j}`, `v${i + j}`]))
  t.ok(cluster.keysOwnedBy(n1, 'x', 1).length === 1)
  let stop = false
  const acked = new Map<string, string>()
  let writes = 0
  let writeErrors = 0
  let reads = 0
  let nils = 0
  let wrong = 0
  const errors: string[] = []
  const writers = Array.from({ length: 8 }, async (_, w) => {
    const c = await RespConnection.connect((w % 2 === 0 ? n0 : n1).clientPort, { t })
    for (let n = 0; !stop && n < 100_000; n++) {
      const key = n % 3 === 0 ? `over:${w}:${n % 30}` : `new:${w}:${n}`
      writes++
      const r = await safe(c.call(['SET', key, `${w}:${n}`]))
      if (JSON.stringify(r) === '{"ok":"OK"}') acked.set(key, `${w}:${n}`)
      else {
        writeErrors++
        if (errors.length < 5) errors.push(JSON.stringify(r))
      }
    }
  })
  const readers = Array.from({ length: 2 }, async (_, k) => {
    const c = await RespConnection.connect(n0.clientPort, { t })
    for (let n = k; !stop && n < 1_000_000; n += 2) {
      const i = (n * 7919) % FILLED
      reads++
      const r = await safe(c.call(['GET', `pre:${i}`]))
      if (r === null) nils++
      else if (r !== `v${i}`) {
        wrong++
        if (errors.length < 5) errors.push(`GET pre:${i}: ${JSON.stringify(r)}`)
      }
    }
  })
  await waitFor(() => writes > 2000, 30_000, 'the load to run')
  const started = Date.now()
  const res = await post(n1, '/state/leaving')
  t.equal(res.status, 200, await res.text())
  t.equal((await post(n1, '/state/leaving')).status, 409, 'a second leave is refused while the first runs')
  await waitFor(async () => (await states(n0))[n1.peerName] === 'left', 60_000, 'node 0 to see node 1 left').catch((err: Error) => {
    stop = true
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  const left = Date.now()
  await new Promise((r) => setTimeout(r, GRACE))
  stop = true
  await Promise.all([...writers, ...readers])
  const info = (await (await fetch(`http://127.0.0.1:${n1.statsPort}/info`)).json()) as { warm_up?: { keys_copied: number; keys_skipped: number; bytes_copied: number; started_at: number; finished_at: number } }
  const w = info.warm_up
  const seconds = w !== undefined ? (w.finished_at - w.started_at) / 1000 : NaN
  t.comment(`leave: ${(left - started) / 1000} s to left everywhere; handed over ${w?.keys_copied} keys (${w?.keys_skipped} newer there), ${w?.bytes_copied} bytes in ${seconds} s`)
  t.comment(`load: ${writes} writes (${writeErrors} errors, ${((100 * writeErrors) / writes).toFixed(3)}%), ${reads} reads (${nils} nil, ${wrong} wrong)`)
  t.equal(nils, 0, 'no read of an existing key answered nil')
  t.equal(wrong, 0, `no read answered wrong ${errors.join(' ')}`)
  t.ok(writeErrors / writes < 0.001, `write error rate under 0.1% (${writeErrors} of ${writes}) ${errors.join(' ')}`)
  // Read straight from node 0's redis, GETs pipelined (one round trip per 1000 keys).
  const keys = [...acked.keys()]
  const onN0 = (await getEach(n0.redisPort, keys)).map(plain)
  let missing = 0
  const samples: string[] = []
  for (const [i, key] of keys.entries()) {
    const value = acked.get(key)
    const got = onN0[i]
    if (got === value) continue
    missing++
    if (samples.length < 5) samples.push(`${key}=${value} n0:${JSON.stringify(got)} n1:${JSON.stringify(plain(await n1.redis.call('GET', key)))} owner-was:${cluster.ownerOf(key, 'dc1', 'rack1').name}`)
  }
  t.equal(missing, 0, `all ${acked.size} acknowledged writes are on node 0, the rack's one node now ${samples.join(' ')}`)
  const filled = Array.from({ length: Math.ceil(FILLED / 31) }, (_, j) => j * 31)
  const filledOnN0 = (await getEach(n0.redisPort, filled.map((i) => `pre:${i}`))).map(plain)
  for (const [j, i] of filled.entries()) if (filledOnN0[j] !== `v${i}`) missing++
  t.equal(missing, 0, 'and every filled key')
  t.equal((await post(n0, '/state/leaving')).status, 400, 'the last node of a rack cannot leave')
})

t.test('a node that left stays out when started again with its old config', async (t) => {
  await n1.stop()
  await n1.start()
  await waitFor(() => /it stays out; start it with join: true/.test(n1.output()), 20_000, 'node 1 to notice it left')
  await waitFor(async () => (await states(n1))[n1.peerName] === 'left', 10_000, 'node 1 to describe itself left')
  const key = cluster.keysOwnedBy(n1, 'after-left')[0]!
  t.same(plain(await n1.call('SET', key, 'v')), { ok: 'OK' })
  t.equal(plain(await n0.redis.call('GET', key)), 'v', 'its clients\' writes go to node 0')
  t.equal(plain(await n1.redis.call('GET', key)), null, 'not to its own datastore')
})
