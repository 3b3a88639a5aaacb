// Pub/sub on a cluster (real processes: a 2-node rack, a 1-node rack and a remote DC): 1,000 subscribers spread over the nodes of dc1
// get every message published through any node, once and in order; the remote DC hears it only with pubsub_scope: cluster.

import t from 'tap'
import { Redis } from 'ioredis'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
})
const dc1 = cluster.nodes.filter((n) => n.dc === 'dc1')
const remote = cluster.nodes.find((n) => n.dc === 'dc2')!

function client(n: ClusterNode): Redis {
  const r = new Redis({ port: n.clientPort, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => r.disconnect())
  return r
}

t.test('1,000 subscribers over the nodes of dc1, 20 messages through another node: each gets all, once, in order', async (t) => {
  const conns: RespConnection[] = []
  for (let i = 0; i < 1000; i++) conns.push(await RespConnection.connect(dc1[i % dc1.length]!.clientPort, { t }))
  await Promise.all(conns.map(async (c) => t.same(plain(await c.call(['SUBSCRIBE', 'cluster-news'], 20_000)), ['subscribe', 'cluster-news', 1])))
  const farSub = await RespConnection.connect(remote.clientPort, { t })
  await farSub.call(['SUBSCRIBE', 'cluster-news'])
  const pub = client(dc1[dc1.length - 1]!)
  for (let i = 0; i < 20; i++) t.ok((await pub.publish('cluster-news', `m${i}`)) >= dc1.length, 'every node of the DC published it')
  const want = Array.from({ length: 20 }, (_v, i) => ['message', 'cluster-news', `m${i}`])
  let ok = 0
  await Promise.all(conns.map(async (c) => {
    const got = (await c.read(20, 20_000)).map(plain)
    if (JSON.stringify(got) === JSON.stringify(want)) ok++
  }))
  t.equal(ok, 1000, 'every subscriber: all 20, once, in order')
  const q = await RespConnection.connect(dc1[0]!.clientPort, { t })
  t.same(plain(await q.call(['PUBSUB', 'CHANNELS', 'cluster-*'])), ['cluster-news'], 'PUBSUB CHANNELS over the nodes of the datacenter')
  // The clients subscribed through every node of the datacenter (not the datastores' subscription connections); dc2's one is out of scope.
  t.same(plain(await q.call(['PUBSUB', 'NUMSUB', 'cluster-news', 'other'])), ['cluster-news', 1000, 'other', 0], 'PUBSUB NUMSUB over the nodes of the datacenter')
  // dc2 is outside the default scope: its subscriber hears nothing (a later PING is its next reply).
  t.same(plain(await farSub.call(['PING'])), ['pong', ''], 'the remote DC is not in pubsub_scope: dc')
  for (const c of conns) c.destroy()
})
