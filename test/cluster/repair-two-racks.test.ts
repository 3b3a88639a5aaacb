// Anti-entropy with two racks, run by repair_interval: no majority exists, so keys missing on one rack are copied both ways and two
// different values are a conflict left alone; the periodic run reports itself. Checked on the redis-servers themselves.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] }],
  pool: { warm_up: false },
  nodePool: ({ rack }) => (rack === 'rack1' ? { repair_interval: 2 } : {}),
})
const rack1 = cluster.node('dc1', 'rack1', 0)
const rack2 = cluster.node('dc1', 'rack2', 0)

type RepairInfo = { phase: string; running: boolean; runs: number; reason: string; interval: number; keysRepaired: number; conflicts: number; total: { keysRepaired: number; conflicts: number } }

async function repairStatus(node: ClusterNode): Promise<RepairInfo> {
  return (await (await fetch(`http://127.0.0.1:${node.statsPort}/repair`)).json()) as RepairInfo
}

t.test('two racks, repaired by repair_interval: missing keys both ways, differing values a conflict', async (t) => {
  t.equal((await repairStatus(rack1)).interval, 2, 'repair_interval is reported')
  t.equal((await repairStatus(rack2)).interval, 0, 'off by default')
  await rack1.redis.call('SET', 'two:a', 'only-rack1')
  await rack2.redis.call('SET', 'two:b', 'only-rack2')
  await rack2.redis.call('SET', 'two:c', 'ttl-rack2', 'PX', '900000')
  await rack1.redis.call('SET', 'two:d', 'one')
  await rack2.redis.call('SET', 'two:d', 'two')
  await waitFor(async () => {
    const s = await repairStatus(rack1)
    return s.total.keysRepaired >= 3 && !s.running
  }, 60_000, 'a periodic run repaired the missing keys')
  const s = await repairStatus(rack1)
  t.equal(s.reason, 'interval', 'started by the interval')
  t.ok(s.total.conflicts >= 1, `the differing values counted as a conflict (${s.total.conflicts})`)
  for (const n of [rack1, rack2]) {
    t.equal(plain(await n.redis.call('GET', 'two:a')), 'only-rack1', `${n.name}: rack1's key`)
    t.equal(plain(await n.redis.call('GET', 'two:b')), 'only-rack2', `${n.name}: rack2's key`)
    const ttl = Number(plain(await n.redis.call('PTTL', 'two:c')))
    t.ok(ttl > 800_000 && ttl <= 900_000, `${n.name}: the copied key keeps its TTL (${ttl} ms)`)
  }
  t.equal(plain(await rack1.redis.call('GET', 'two:d')), 'one', 'the conflict left on rack1')
  t.equal(plain(await rack2.redis.call('GET', 'two:d')), 'two', 'and on rack2')
  t.equal((await repairStatus(rack2)).runs, 0, 'rack2 (no repair_interval) ran none')
})
