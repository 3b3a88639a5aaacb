// What a cluster node used to refuse that a single-node pool serves: MULTI/EXEC now runs on the keys' owner (see transactions.test.ts);
// here, the plain client view on a 2-rack cluster. It must never leave a process behind: the cluster helper stops everything in teardown.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startCluster(t, { dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] }] })
const a = cluster.node('dc1', 'rack1', 0)

t.test('MULTI/EXEC on one hash tag is served; the connection keeps serving', async (t) => {
  const conn = await a.connect()
  t.same(plain(await conn.call(['MULTI'])), { ok: 'OK' })
  t.same(plain(await conn.call(['SET', '{t}a', '1'])), { ok: 'QUEUED' })
  t.same(plain(await conn.call(['EXEC'])), [{ ok: 'OK' }])
  t.match(plain(await conn.call(['EXEC'])), { err: /EXEC without MULTI/ }, 'the transaction is over')
  t.same(plain(await conn.call(['EVAL', "return redis.call('INCR', KEYS[1])", '1', '{t}a'])), 2, 'EVAL with its keys under one tag works too')
  conn.destroy()
})
