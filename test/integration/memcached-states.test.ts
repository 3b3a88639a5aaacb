// Node states on a memcached pool (admin /state/...): STANDBY refuses datastore commands, WRITES_ONLY refuses reads, NORMAL serves again.
// It must never leave a process behind: the proxy and memcached are stopped in teardown.

import t from 'tap'
import { startProxiedMemcached } from '../helpers/memcached.ts'
import { McConnection } from '../helpers/memcached-connection.ts'
import { freePort } from '../helpers/free-port.ts'

const REFUSED = "SERVER_ERROR Dynomite: Dynomite's current state does not allow this request"

t.test('memcached pool follows the node state', async (t) => {
  const admin = await freePort()
  const mc = await startProxiedMemcached(t, { backends: 2, pool: { stats_listen: `127.0.0.1:${admin}` } })
  const state = async (s: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${admin}/state/${s}`, { method: 'POST' })
    t.equal(res.status, 200, `state ${s}`)
  }
  const conn = await McConnection.connect(mc.port)
  t.teardown(() => conn.destroy())
  t.equal(await conn.head('set k 0 0 1\r\nv\r\n'), 'STORED')

  await state('writes_only')
  t.equal(await conn.head('get k\r\n'), REFUSED, 'WRITES_ONLY: a read is refused')
  t.equal(await conn.head('mg k v\r\n'), REFUSED, 'WRITES_ONLY: a meta read too')
  t.equal(await conn.head('set k 0 0 2\r\nv2\r\n'), 'STORED', 'WRITES_ONLY: writes go through')
  t.equal(await conn.head('mn\r\n'), 'MN', 'mn is answered by the proxy in every state')

  await state('standby')
  t.equal(await conn.head('set k 0 0 1\r\nx\r\n'), REFUSED, 'STANDBY: writes refused')
  t.equal(await conn.head('get k\r\n'), REFUSED, 'STANDBY: reads refused')
  t.match(await conn.head('version\r\n'), /^VERSION /, 'version still answers')

  await state('normal')
  const r = await conn.call('get k\r\n')
  t.match(r.raw.toString('latin1'), /^VALUE k 0 2\r\nv2\r\nEND\r\n$/, 'NORMAL: the write made in WRITES_ONLY is there')
})
