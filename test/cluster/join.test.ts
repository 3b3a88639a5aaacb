// Join on real processes: a second node joins a rack of one under write and read load; it is not served from until it copied its
// range, every acknowledged write is on the owner afterwards, no read of an existing key answers nil, and once handoff_grace is past
// the old owner deletes what it handed over. Also: a restarted member with join: true left on does not join again.
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { RespConnection, getEach } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const GRACE = 3000
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  // Node 0 runs alone first (it lists no seed); node 1 joins it later, knowing node 0 as its one seed.
  seeds: (_n, i) => (i === 0 ? [] : [0]),
  deferStart: [1],
  pool: { handoff_grace: GRACE },
  nodePool: ({ index }) => (index === 1 ? { join: true } : {}),
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]

interface Info { gossip?: { join: string; cleanup: { runs: number; running: string; keys_deleted: number } }; warm_up?: { phase: string; keys_copied: number; bytes_copied: number; started_at: number; finished_at: number } }
async function info(n: ClusterNode): Promise<Info> {
  return (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as Info
}
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
const VALUE = 'x'.repeat(64)

t.test('a node joins a rack of one under load: nothing lost, no nil read, the old owner cleans up', async (t) => {
  const fill = await RespConnection.connect(n0.clientPort, { t })
  for (let i = 0; i < FILLED; i += 100) {
    const replies = await fill.pipeline(Array.from({ length: 100 }, (_, j) => ['SET', `pre:${i + j}`, `${VALUE}${i + j}`]))
    t.ok(replies.every((r) => JSON.stringify(plain(r)) === '{"ok":"OK"}'), `filled ${i}..${i + 99}`)
  }
  // 8 writers (new keys and overwrites of their own keys) and 2 readers of the filled keys, through node 0, until told to stop.
  let stop = false
  const acked = new Map<string, string>()
  let writes = 0
  let writeErrors = 0
  let reads = 0
  let nils = 0
  let readErrors = 0
  const errors: string[] = []
  const writers = Array.from({ length: 8 }, async (_, w) => {
    const c = await RespConnection.connect(n0.clientPort, { t })
    for (let n = 0; !stop && n < 100_000; n++) {
      const key = n % 3 === 0 ? `over:${w}:${n % 30}` : `new:${w}:${n}`
      const value = `${w}:${n}`
      writes++
      const r = await safe(c.call(['SET', key, value]))
      if (JSON.stringify(r) === '{"ok":"OK"}') acked.set(key, value)
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
      else if (r !== `${VALUE}${i}`) {
        readErrors++
        if (errors.length < 5) errors.push(`GET pre:${i}: ${JSON.stringify(r)}`)
      }
    }
  })
  await waitFor(() => writes > 2000, 30_000, 'the load to run')
  const joinStart = Date.now()
  await n1.start()
  await waitFor(async () => (await info(n1)).gossip?.join === 'done', 60_000, 'node 1 to finish joining').catch((err: Error) => {
    stop = true
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-4000)}\n--- node 0 ---\n${n0.output().slice(-3000)}`)
  })
  await waitFor(async () => Object.values(await states(n0)).every((s) => s === 'normal'), 20_000, 'node 0 to see node 1 normal')
  const joined = Date.now()
  // Keep the load going through the flip and the grace that follows it.
  await new Promise((r) => setTimeout(r, GRACE))
  stop = true
  await Promise.all([...writers, ...readers])
  const w = (await info(n1)).warm_up
  const seconds = w !== undefined && w.finished_at > w.started_at ? (w.finished_at - w.started_at) / 1000 : NaN
  t.comment(`join: ${(joined - joinStart) / 1000} s from start to normal everywhere; copy ${w?.keys_copied} keys, ${w?.bytes_copied} bytes in ${seconds} s ` +
    `(${Math.round((w?.keys_copied ?? 0) / seconds)} keys/s, ${(((w?.bytes_copied ?? 0) / seconds) / 1e6).toFixed(2)} MB/s)`)
  t.comment(`load: ${writes} writes (${writeErrors} errors, ${((100 * writeErrors) / writes).toFixed(3)}%), ${reads} reads (${nils} nil, ${readErrors} wrong)`)
  t.equal(nils, 0, 'no read of an existing key answered nil')
  t.equal(readErrors, 0, `no read answered wrong ${errors.join(' ')}`)
  t.ok(writeErrors / writes < 0.001, `write error rate under 0.1% (${writeErrors} of ${writes}) ${errors.join(' ')}`)
  // Every acknowledged write, through node 1 and on its owner's datastore (GETs pipelined: one round trip per 1000 keys).
  const keys = [...acked.keys()]
  const viaN1 = (await getEach(n1.clientPort, keys)).map(plain)
  const missing = keys.filter((k, i) => viaN1[i] !== acked.get(k)).length
  let onOwner = 0
  for (const owner of [n0, n1]) {
    const owned = keys.filter((k) => cluster.ownerOf(k, 'dc1', 'rack1') === owner)
    const there = (await getEach(owner.redisPort, owned)).map(plain)
    onOwner += owned.filter((k, i) => there[i] === acked.get(k)).length
  }
  t.equal(missing, 0, `all ${acked.size} acknowledged writes read back through node 1`)
  t.equal(onOwner, acked.size, 'and each is on its owner\'s datastore')
  for (let i = 0; i < FILLED; i += 97) t.equal(plain(await n0.call('GET', `pre:${i}`)), `${VALUE}${i}`)
  // handoff_grace past: node 0 deletes the keys node 1 owns now.
  await waitFor(async () => {
    const c = (await info(n0)).gossip?.cleanup
    return c !== undefined && c.runs > 0 && c.running === 'false'
  }, 30_000, 'node 0 to clean up')
  const moved = [...acked.keys()].filter((k) => cluster.ownerOf(k, 'dc1', 'rack1') === n1)
  t.ok(moved.length > 0, 'some keys moved')
  const left = (await getEach(n0.redisPort, moved.slice(0, 300))).filter((r) => plain(r) !== null).length
  t.equal(left, 0, 'node 0 no longer holds the moved keys')
  t.ok(((await info(n0)).gossip?.cleanup.keys_deleted ?? 0) >= moved.length, 'counted')
})

t.test('a member restarted with join: true left on does not join again', async (t) => {
  await n1.stop()
  await n1.start()
  await waitFor(async () => ['member', 'done'].includes((await info(n1)).gossip?.join ?? ''), 30_000, 'node 1 to decide')
  t.equal((await info(n1)).gossip?.join, 'member')
  await cluster.waitReady()
  const key = cluster.keysOwnedBy(n1, 'again')[0]!
  t.same(plain(await n0.call('SET', key, 'v')), { ok: 'OK' })
  t.equal(plain(await n1.call('GET', key)), 'v')
})

t.test('/ring/plan prints balanced tokens and the moves; /cleanup is a POST', async (t) => {
  const res = await fetch(`http://127.0.0.1:${n0.statsPort}/ring/plan?nodes=4`)
  t.equal(res.status, 200)
  const plan = (await res.json()) as { tokens: string[]; assignments: { node: string | null; planned: string }[]; moved: number }
  t.same(plan.tokens, ['0', '1073741823', '2147483647', '3221225471'])
  t.equal(plan.assignments.length, 4)
  t.equal(plan.assignments.filter((a) => a.node === null).length, 2, 'two nodes to add')
  t.ok(plan.moved > 0 && plan.moved <= 1)
  t.equal((await fetch(`http://127.0.0.1:${n0.statsPort}/ring/plan?nodes=0`)).status, 400)
  t.equal((await fetch(`http://127.0.0.1:${n0.statsPort}/cleanup`)).status, 405)
  t.equal((await fetch(`http://127.0.0.1:${n0.statsPort}/cleanup`, { method: 'POST' })).status, 200)
})
