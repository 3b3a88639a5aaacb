// max_memory through a single node (RESP and memcached pools): once the process RSS is past it, commands that may grow memory get
// Redis' -OOM (memcached: SERVER_ERROR out of memory storing object), reads and deletes still work, counted and logged; below it again, served.

import t from 'tap'
import { startProxiedRedis, startDynoproxy } from '../helpers/dynoproxy.ts'
import { startMemcached } from '../helpers/memcached.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { freePort } from '../helpers/free-port.ts'
import net from 'node:net'

// 1 MiB: any process is past it at once, so the limit is always reached.
const node = await startProxiedRedis(t, { backends: 1, pool: { max_memory: 1024 * 1024 } })

t.test('RESP: SET gets -OOM in Redis\' words, GET and DEL still work, counted and logged', async (t) => {
  await node.backends[0]!.call('SET', 'mm:k', 'v')
  const c = await RespConnection.connect(node.port, { t })
  await waitFor(async () => {
    const r = plain(await c.call(['SET', 'mm:x', 'y'])) as { err?: string }
    return r.err !== undefined
  }, 5000, 'the limit seen')
  t.same(plain(await c.call(['SET', 'mm:x', 'y'])), { err: "OOM command not allowed when used memory > 'maxmemory'." })
  t.equal(plain(await c.call(['GET', 'mm:k'])), 'v', 'a read is served')
  t.equal(plain(await c.call(['DEL', 'mm:k'])), 1, 'a delete is served (it frees memory)')
  const r = (await c.pipeline([['MULTI'], ['SET', 'mm:t', '1'], ['EXEC']])).map(plain)
  t.match(r[2], { err: /^EXECABORT/ }, 'inside MULTI the refusal aborts EXEC')
  const text = await (await fetch(`http://${node.pool['stats_listen'] as string}/metrics`)).text()
  t.match(text, /dynoproxy_oom_rejected_total\{[^}]*\} [1-9]/, 'counted')
  await waitFor(() => /max_memory reached/.test(node.proxy.output()), 5000, 'logged')
  t.pass('logged')
})

t.test('memcached: a set gets SERVER_ERROR out of memory storing object; get and delete work', async (t) => {
  const mc = await startMemcached(t)
  const port = await freePort()
  const proxy = await startDynoproxy(t, { config: { mm: { listen: `127.0.0.1:${port}`, data_store: 1, max_memory: 1024 * 1024, servers: [`127.0.0.1:${mc.port}:1`] } } })
  void proxy
  const reply = async (req: string, until: RegExp): Promise<string> => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let got = ''
    s.on('data', (d) => {
      got += d.toString('latin1')
      if (until.test(got)) {
        s.destroy()
        resolve(got)
      }
    })
    s.on('error', reject)
    s.write(req)
    setTimeout(() => { s.destroy(); reject(new Error(`no reply: ${JSON.stringify(got)}`)) }, 5000)
  })
  await waitFor(async () => (await reply('set probe 0 0 1\r\nx\r\n', /\r\n/)).startsWith('SERVER_ERROR'), 5000, 'the limit seen')
  t.equal(await reply('set a 0 0 1\r\nx\r\n', /\r\n/), 'SERVER_ERROR out of memory storing object\r\n')
  t.equal(await reply('get a\r\n', /END\r\n/), 'END\r\n', 'a get is served')
  t.equal(await reply('delete a\r\n', /\r\n/), 'NOT_FOUND\r\n', 'a delete is served')
})
