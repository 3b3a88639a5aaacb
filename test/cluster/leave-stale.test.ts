// Leave after a join whose old owner has not cleaned up (auto_cleanup: false, or a leave before the cleanup ran): the old owner still
// holds the values from before the join; the leaving node hands over newer ones, and the hand-over's RESTORE (never replacing) keeps
// the stale copy. The same the other way: a node that left and joins again (join: true, the documented way back) keeps what its
// datastore held when it left over the newer values it copies. Found while writing bench/membership.ts (issue 12); fixed by purging
// the receiving side's stale keys of the range before the move starts (join.ts on the joiner, leave.ts with DYNOPROXY.PURGE).
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const GRACE = 1000
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  seeds: (_n, i) => (i === 0 ? [] : [0]),
  deferStart: [1],
  pool: { handoff_grace: GRACE, auto_cleanup: false },
  nodePool: ({ index }) => (index === 1 ? { join: true } : {}),
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]

async function states(n: ClusterNode): Promise<string[]> {
  const d = (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { node_state: string }[] }[] }[] }
  return d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => s.node_state)))
}

t.test('a write acknowledged after a join survives the joiner leaving again before the old owner cleaned up', async (t) => {
  const keys = cluster.keysOwnedBy(n1, 'stale', 50)
  for (const k of keys) t.same(plain(await n0.call('SET', k, 'before-join')), { ok: 'OK' })
  await n1.start()
  await waitFor(async () => {
    const i = (await (await fetch(`http://127.0.0.1:${n1.statsPort}/info`)).json()) as { gossip?: { join: string } }
    return i.gossip?.join === 'done'
  }, 60_000, 'node 1 to finish joining')
  // Past handoff_grace, a write of node 1's range reaches node 1 only: node 0 keeps its old copy (no cleanup).
  const probe = cluster.keysOwnedBy(n1, 'probe', 1)[0]!
  let round = 0
  await waitFor(async () => {
    const v = `p${++round}`
    await n0.call('SET', probe, v)
    await new Promise((r) => setTimeout(r, 300))
    return plain(await n0.redis.call('GET', probe)) !== v
  }, 30_000, 'the handoff grace to end')
  for (const k of keys) t.same(plain(await n0.call('SET', k, 'after-join')), { ok: 'OK' })
  t.equal(plain(await n1.redis.call('GET', keys[0]!)), 'after-join', 'node 1 holds the acknowledged value')
  t.equal(plain(await n0.redis.call('GET', keys[0]!)), 'before-join', 'node 0 still holds the old one')
  // The leave is refused until the join's move settled everywhere (the shadow ring gone); retried until accepted.
  await waitFor(async () => (await fetch(`http://127.0.0.1:${n1.statsPort}/state/leaving`, { method: 'POST' })).status === 200, 30_000, 'node 1 to accept the leave')
  await waitFor(async () => (await states(n0)).includes('left'), 60_000, 'node 0 to see node 1 left')
  const got = await Promise.all(keys.map(async (k) => plain(await n0.call('GET', k))))
  const stale = got.filter((v) => v !== 'after-join').length
  t.equal(stale, 0, `every key reads the value acknowledged last (${stale} of ${keys.length} read ${JSON.stringify(got.find((v) => v !== 'after-join'))})`)
})

t.test('a node that left and joins again (join: true) does not serve the values it held when it left', async (t) => {
  const keys = cluster.keysOwnedBy(n1, 'stale', 50)
  // Node 1 left; it keeps its redis as it was. Past the leave's handoff_grace, newer values go to node 0 only.
  const probe = cluster.keysOwnedBy(n1, 'probe2', 1)[0]!
  let round = 0
  await waitFor(async () => {
    const v = `p${++round}`
    await n0.call('SET', probe, v)
    // Replication is asynchronous: look after it had time to land.
    await new Promise((r) => setTimeout(r, 300))
    return plain(await n1.redis.call('GET', probe)) !== v
  }, 30_000, 'the leave\'s handoff grace to end')
  for (const k of keys) t.same(plain(await n0.call('SET', k, 'after-leave')), { ok: 'OK' })
  t.equal(plain(await n1.redis.call('GET', keys[0]!)), 'after-join', 'node 1\'s datastore still holds what it had when it left')
  await n1.stop()
  await n1.start()
  await waitFor(async () => {
    const i = (await (await fetch(`http://127.0.0.1:${n1.statsPort}/info`)).json()) as { gossip?: { join: string } }
    return i.gossip?.join === 'done'
  }, 60_000, 'node 1 to join again')
  await waitFor(async () => (await states(n0)).every((s) => s === 'normal'), 30_000, 'both normal')
  // Past the join's handoff_grace, node 1 alone serves its range (a write no longer reaches node 0).
  const probe3 = cluster.keysOwnedBy(n1, 'probe3', 1)[0]!
  await waitFor(async () => {
    const v = `p${++round}`
    await n0.call('SET', probe3, v)
    await new Promise((r) => setTimeout(r, 300))
    return plain(await n0.redis.call('GET', probe3)) !== v
  }, 30_000, 'the join\'s handoff grace to end')
  t.equal(plain(await n1.redis.call('GET', keys[0]!)), 'after-leave', 'node 1\'s datastore holds the value acknowledged last')
  const got = await Promise.all(keys.map(async (k) => plain(await n0.call('GET', k))))
  const stale = got.filter((v) => v !== 'after-leave').length
  t.equal(stale, 0, `every key reads the value acknowledged last (${stale} of ${keys.length} read ${JSON.stringify(got.find((v) => v !== 'after-leave'))})`)
})
