// Error counters through a memcached pool: error replies (the datastore's and the proxy's own) are counted like RESP's, through the
// protocol adapter's error test, never by RESP's '-' byte. It must never leave a process behind: the proxy and memcached stop in teardown.

import t from 'tap'
import { startProxiedMemcached } from '../helpers/memcached.ts'
import { McConnection } from '../helpers/memcached-connection.ts'
import { freePort } from '../helpers/free-port.ts'

t.test('request_errors_total and command_errors_total count memcached error replies', async (t) => {
  const admin = await freePort()
  const mc = await startProxiedMemcached(t, { backends: 1, pool: { stats_listen: `127.0.0.1:${admin}` } })
  const metric = async (re: RegExp): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text()
    const m = re.exec(text)
    return m === null ? NaN : Number(m[1])
  }
  const errors = (): Promise<number> => metric(/^dynoproxy_request_errors_total\{pool="mc_pool"\} (\S+)$/m)
  const family = (): Promise<number> => metric(/^dynoproxy_command_errors_total\{pool="mc_pool",family="memcached"\} (\S+)$/m)
  const conn = await McConnection.connect(mc.port)
  t.teardown(() => conn.destroy())
  t.equal(await conn.head('set k 0 0 1\r\na\r\n'), 'STORED')
  t.equal(await conn.head('get nothing\r\n'), 'END')
  t.equal(await errors(), 0, 'no error yet')
  t.match(await conn.head('incr k 1\r\n'), /^CLIENT_ERROR /, 'the datastore refuses incr of a non-number')
  t.equal(await conn.head('bogus\r\n'), 'ERROR', 'the proxy answers an unknown command')
  t.equal(await conn.head('set k2 0 0 1\r\nb\r\n'), 'STORED', 'STORED is not an error (it starts like SERVER_ERROR)')
  t.equal(await errors(), 2, 'both error replies counted')
  t.equal(await family(), 2, 'and per command family')
})
