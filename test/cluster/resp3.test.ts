// RESP3 on cluster nodes (real processes, a 2-node rack and a second rack): a RESP3 client's requests forwarded to the owning peer come
// back typed as RESP3 (the dnode RESP3 flag), a split MGET carries RESP3 nulls, and RESP2 clients of the same nodes are unaffected.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] }],
})
const [a, b] = cluster.rackNodes('dc1', 'rack1') as [typeof cluster.nodes[0], typeof cluster.nodes[0]]

t.test('through the non-owner: maps, doubles and nulls as RESP3; RESP2 clients still get arrays', async (t) => {
  const key = cluster.keysOwnedBy(b, 'r3h', 1)[0]!
  const other = cluster.keysOwnedBy(a, 'r3o', 1)[0]!
  const c3 = await RespConnection.connect(a.clientPort, { t })
  t.equal((await c3.call(['HELLO', '3'])).kind, 'map')
  await c3.call(['HSET', key, 'f', 'v'])
  t.equal((await c3.call(['HGETALL', key])).kind, 'map', 'forwarded to the owner: a map')
  await c3.call(['ZADD', `${key}z`, '2.5', 'm'])
  t.equal((await c3.call(['ZSCORE', `${key}z`, 'm'])).kind, 'double')
  t.equal((await c3.call(['GET', cluster.keysOwnedBy(b, 'r3missing', 1)[0]!])).kind, 'null', 'a forwarded nil is RESP3 null')
  await c3.call(['SET', other, 'x'])
  const mget = await c3.call(['MGET', other, cluster.keysOwnedBy(b, 'r3n', 1)[0]!])
  t.same(plain(mget), ['x', null], 'split over both nodes')
  t.equal((mget as { value: { kind: string }[] }).value[1]!.kind, 'null', 'with a RESP3 null from the peer')
  const c2 = await RespConnection.connect(a.clientPort, { t })
  t.equal((await c2.call(['HGETALL', key])).kind, 'array', 'a RESP2 client of the same node: an array')
})
