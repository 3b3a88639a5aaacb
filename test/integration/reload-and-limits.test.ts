// SIGHUP reload of the settings that move no data, and the per-process limits: client connections, request size.
// It must never leave a proxy or redis-server running: every process is stopped in teardown.

import { writeFileSync } from 'node:fs'
import net from 'node:net'
import t from 'tap'
import { stringify } from 'yaml'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

t.test('SIGHUP applies a new requirepass and timeout; a broken file keeps the running config', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 1, workers: 2 })
  const conn = await RespConnection.connect(cluster.port, { t })
  t.same(plain(await conn.call(['SET', 'k', 'v'])), { ok: 'OK' })

  // requirepass is the clients' password and the proxy's AUTH to the datastore: the datastore gets it too (connections open stay authenticated).
  t.same(plain(await cluster.backends[0]!.call('CONFIG', 'SET', 'requirepass', 'sekret')), { ok: 'OK' })
  writeFileSync(cluster.proxy.configPath, stringify({ test_pool: { ...cluster.pool, requirepass: 'sekret', timeout: 2000 } }))
  cluster.proxy.kill('SIGHUP')
  // Every worker applies it: poll new connections until both workers refuse without AUTH.
  await waitFor(
    async () => {
      for (let i = 0; i < 8; i++) {
        const c = await RespConnection.connect(cluster.port)
        const r = plain(await c.call(['GET', 'k']))
        c.destroy()
        if (typeof r !== 'object' || r === null || !('err' in r)) return false
      }
      return true
    },
    10_000,
    'requirepass to apply on every worker',
    50,
  )
  const authed = await RespConnection.connect(cluster.port, { t })
  t.same(plain(await authed.call(['AUTH', 'sekret'])), { ok: 'OK' }, 'AUTH with the reloaded password')
  t.same(plain(await authed.call(['GET', 'k'])), 'v', 'served after AUTH')
  const wrong = await RespConnection.connect(cluster.port, { t })
  t.match(plain(await wrong.call(['AUTH', 'nope'])), { err: /WRONGPASS/ }, 'a wrong password is refused')

  writeFileSync(cluster.proxy.configPath, 'test_pool:\n  listen: 127.0.0.1:1\n  timeout: not-a-number\n')
  cluster.proxy.kill('SIGHUP')
  await waitFor(() => /reload failed/.test(cluster.proxy.output()), 10_000, 'the reload failure to be logged', 50)
  t.match(cluster.proxy.output(), /timeout/, 'the log names the bad key')
  t.same(plain(await authed.call(['GET', 'k'])), 'v', 'still serving with the previous configuration')
})

t.test('client_connections caps connections; the proxy keeps serving the admitted ones', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 1, workers: 1, pool: { client_connections: 3 } })
  const admitted = await Promise.all([0, 1, 2].map(() => RespConnection.connect(cluster.port, { t })))
  for (const c of admitted) t.same(plain(await c.call(['PING'])), { ok: 'PONG' })
  const extra = net.connect(cluster.port, '127.0.0.1')
  const closed = await new Promise<boolean>((resolve) => {
    extra.on('close', () => resolve(true))
    extra.on('error', () => resolve(true))
    setTimeout(() => resolve(false), 5000)
  })
  t.ok(closed, 'the 4th connection is closed by the proxy')
  t.same(plain(await admitted[0]!.call(['PING'])), { ok: 'PONG' }, 'admitted clients unaffected')
  admitted[2]!.destroy()
  await waitFor(
    async () => {
      const c = await RespConnection.connect(cluster.port).catch(() => null)
      if (c === null) return false
      const ok = await c.call(['PING'], 1000).then((r) => r.kind === 'simple').catch(() => false)
      c.destroy()
      return ok
    },
    10_000,
    'a slot to free up after a client leaves',
    50,
  )
  t.pass('a new client is admitted once one left')
})

t.test('max_request_bytes: an oversized bulk is refused with a protocol error, others unaffected', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 1, pool: { max_request_bytes: 1024 * 1024 } })
  const other = await RespConnection.connect(cluster.port, { t })
  const big = await RespConnection.connect(cluster.port, { t })
  big.write(Buffer.from(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${2 * 1024 * 1024}\r\n`))
  const [reply] = await big.read(1, 5000)
  t.match(plain(reply!), { err: /Protocol error/ }, 'protocol error reply')
  await big.waitClosed(5000)
  t.pass('that connection is closed')
  t.same(plain(await other.call(['SET', 'small', 'x'.repeat(1000)])), { ok: 'OK' }, 'other clients unaffected')
})
