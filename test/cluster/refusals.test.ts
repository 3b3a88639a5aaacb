// What a cluster node refuses that a single-node pool serves: MULTI/EXEC (as Dynomite). Other commands keep working.
// It must never leave a process behind: the cluster helper stops everything in teardown.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startCluster(t, { dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] }] })
const a = cluster.node('dc1', 'rack1', 0)

t.test('MULTI is refused with the reason; the connection keeps serving', async (t) => {
  const conn = await a.connect()
  t.match(plain(await conn.call(['MULTI'])), { err: /MULTI\/EXEC is not supported on a cluster node/ })
  t.match(plain(await conn.call(['EXEC'])), { err: /EXEC without MULTI/ }, 'no transaction was opened')
  t.same(plain(await conn.call(['SET', '{t}a', '1'])), { ok: 'OK' })
  t.same(plain(await conn.call(['EVAL', "return redis.call('INCR', KEYS[1])", '1', '{t}a'])), 2, 'EVAL with its keys under one tag is the way')
  conn.destroy()
})
