// DC_EACH_SAFE_QUORUM on 2 datacenters (2 racks in dc1, 1 in dc2): a safe quorum in every datacenter, else the quorum error.
// It must never sleep: replicas are set directly on their datastores, outcomes polled with deadlines.

import t from 'tap'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  consistency: 'DC_EACH_SAFE_QUORUM',
})
const a = cluster.node('dc1', 'rack1', 0)
const b = cluster.node('dc1', 'rack2', 0)
const d = cluster.node('dc2', 'rack1', 0)

t.test('writes reach every datacenter synchronously and reads agree', async (t) => {
  t.same(plain(await a.call('SET', 'e:1', 'v1')), { ok: 'OK' })
  // EACH_SAFE_QUORUM waited for every rack: the replicas hold it already (no async replication to wait for).
  for (const n of [a, b, d]) t.same(plain(await n.redis.call('GET', 'e:1')), 'v1', `${n.dc}/${n.rack} has it when SET returns`)
  t.same(plain(await a.call('GET', 'e:1')), 'v1')
})

t.test('each datacenter needs its own majority: dc2 alone agrees with itself, dc1 split fails the read', async (t) => {
  await a.call('SET', 'e:2', 'same')
  t.ok(await waitForValue(d.redis, 'e:2', 'same'))
  await d.redis.call('SET', 'e:2', 'other')
  // dc2 has one rack: its only reply is its own majority, so the read still succeeds with dc1's value.
  t.same(plain(await a.call('GET', 'e:2')), 'same', "dc2's lone replica is its own majority")
  await b.redis.call('SET', 'e:2', 'diverged')
  t.match(plain(await a.call('GET', 'e:2')), { err: /Failed to achieve Quorum/ }, 'dc1 has no majority: the quorum error')
})

t.test('a datacenter whose only replica is down fails the request in time', async (t) => {
  await d.stopRedis()
  const started = Date.now()
  t.match(plain(await a.call('GET', 'e:1')), { err: /Quorum|Storage/ }, 'error, not a hang')
  t.ok(Date.now() - started < 5000, 'answered within 5 s')
  await d.restartRedis()
})
