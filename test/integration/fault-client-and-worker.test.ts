// Faults on the proxy side: clients vanishing mid-pipeline, a data worker crashing (DYNOPROXY.CRASH WORKER), SIGTERM drain.
// It must never run an unbounded load: every loop here has a fixed count and every wait a deadline.

import { readFileSync } from 'node:fs'
import t from 'tap'
import { onEachBackend } from '../helpers/backend-probe.ts'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection, encodeCommands } from '../helpers/resp-connection.ts'
import type { CommandArg } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { unreadBytesOnPort } from '../helpers/tcp-queue.ts'
import { canConnect, waitFor, withDeadline } from '../helpers/wait-for.ts'

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  if (m === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) / 1024
}

async function backendClientCounts(backends: Parameters<typeof onEachBackend>[0]): Promise<number[]> {
  const replies = await onEachBackend(backends, [['INFO', 'clients']])
  return replies.map((r) => {
    const m = /connected_clients:(\d+)/.exec(String(plain(r[0]!)))
    if (m === null) throw new Error('no connected_clients in INFO')
    return Number(m[1]) - 1 // minus the probe itself
  })
}

t.test('clients that vanish mid-pipeline: proxy keeps serving others, no leak', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 3 })
  const steady = await RespConnection.connect(cluster.port, { t })
  t.same(plain(await steady.call(['SET', 'steady', 'yes'])), { ok: 'OK' })
  const pipeline = encodeCommands(
    Array.from({ length: 10_000 }, (_, i): CommandArg[] => (i % 2 === 0 ? ['SET', `vanish:${i % 997}`, 'x'.repeat(100)] : ['GET', `vanish:${i % 991}`])),
  )
  const baselineClients = await backendClientCounts(cluster.backends)

  const round = async (n: number): Promise<void> => {
    const conn = await RespConnection.connect(cluster.port)
    conn.write(pipeline)
    // Alternate: destroy at once, or after some replies have started flowing back.
    if (n % 2 === 1) await conn.read(100, 10_000)
    conn.destroy()
    const reply = await steady.call(['GET', 'steady'], 5000)
    if (plain(reply) !== 'yes') throw new Error(`steady client got ${JSON.stringify(plain(reply))} in round ${n}`)
  }
  for (let n = 0; n < 20; n++) await round(n)
  const rssAfterWarmup = rssMiB(cluster.proxy.pid)
  for (let n = 20; n < 50; n++) await round(n)
  const rssAfter = rssMiB(cluster.proxy.pid)
  t.pass('the steady client was answered correctly after each of 50 vanished pipelines')

  await waitFor(
    async () => (await backendClientCounts(cluster.backends)).every((c, i) => c <= baselineClients[i]! + 1),
    10_000,
    'backend connection counts back to their baseline',
    100,
  )
  t.pass(`backend connections did not pile up (baseline ${baselineClients.join('/')})`)
  t.ok(rssAfter - rssAfterWarmup < 64, `proxy RSS grew ${Math.round(rssAfter - rssAfterWarmup)} MiB over 30 more vanished pipelines (< 64)`)

  const check = await RespConnection.connect(cluster.port, { t })
  const replies = await check.pipeline(Array.from({ length: 1000 }, (_, i) => ['SET', `after:${i}`, String(i)]).concat([['MGET', 'after:0', 'after:999', 'steady']]))
  t.same(plain(replies[1000]!), ['0', '999', 'yes'], 'a new client is served correctly afterwards')
})

t.test('worker crash (DYNOPROXY.CRASH WORKER): other workers keep serving, new connections work after restart', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 2, workers: 2, env: { DYNOPROXY_TEST_HOOKS: '1' } })
  const conns = await Promise.all(Array.from({ length: 16 }, () => RespConnection.connect(cluster.port, { t })))
  await Promise.all(conns.map(async (c, i) => {
    const r = await c.call(['SET', `crash:${i}`, `v${i}`])
    if (r.kind !== 'simple') throw new Error(`SET on connection ${i} failed: ${JSON.stringify(plain(r))}`)
  }))

  const crasher = conns[0]!
  crasher.send(['DYNOPROXY.CRASH', 'WORKER'])
  await crasher.waitClosed(10_000)
  t.pass('the connection that crashed its worker is closed')

  const outcomes = await Promise.all(conns.slice(1).map(async (c, j) => {
    const i = j + 1
    try {
      return plain(await c.call(['GET', `crash:${i}`], 5000)) === `v${i}` ? 'served' : 'wrong'
    } catch {
      return c.isOpen ? 'hung' : 'closed'
    }
  }))
  t.notOk(outcomes.includes('wrong'), 'no surviving connection got a wrong reply', { outcomes })
  t.notOk(outcomes.includes('hung'), 'no connection left hanging', { outcomes })
  t.ok(outcomes.filter((o) => o === 'served').length >= 1, `connections on the other worker keep working (${outcomes.filter((o) => o === 'served').length}/15)`)

  // New connections land on either worker; all of them must work once the crashed one is restarted.
  await waitFor(async () => {
    const fresh = await Promise.all(Array.from({ length: 16 }, () => RespConnection.connect(cluster.port)))
    try {
      const replies = await Promise.all(fresh.map((c) => c.call(['GET', 'crash:1'], 2000)))
      return replies.every((r) => plain(r) === 'v1')
    } finally {
      fresh.forEach((c) => c.destroy())
    }
  }, 15_000, '16 new connections all served after the worker restart', 200)
  t.pass('new connections work after restart')

  const second = await RespConnection.connect(cluster.port, { t })
  second.send(['DYNOPROXY.CRASH', 'WORKER'])
  await second.waitClosed(10_000)
  await waitFor(async () => plain(await (await RespConnection.connect(cluster.port, { t })).call(['GET', 'crash:2'], 2000)) === 'v2',
    15_000, 'service after a second crash', 200)
  t.pass('a second crash is survived too')
})

t.test('SIGTERM drains an in-flight request, then exits 0', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 1, pool: { timeout: 10_000 } })
  const backend = cluster.backends[0]!
  const conn = await RespConnection.connect(cluster.port, { t })
  t.same(plain(await conn.call(['SET', 'drain', 'value'])), { ok: 'OK' })
  backend.kill('SIGSTOP')
  t.teardown(() => backend.kill('SIGCONT'))
  conn.send(['GET', 'drain'])
  await waitFor(() => unreadBytesOnPort(backend.port) > 0, 5000, 'the GET to reach the (stopped) backend\'s socket', 5)
  cluster.proxy.kill('SIGTERM')
  // Resume the backend only once the proxy is draining (it logs so, or has stopped accepting).
  await waitFor(async () => /"msg":"[^"]*drain/i.test(cluster.proxy.output()) || !(await canConnect(cluster.port)), 5000, 'the proxy to start draining')
  backend.kill('SIGCONT')
  const [reply] = await conn.read(1, 10_000)
  t.same(plain(reply!), 'value', 'the in-flight GET is answered')
  const status = await withDeadline(cluster.proxy.exited, 10_000, 'proxy exit after SIGTERM')
  t.same(status, { code: 0, signal: null }, 'exit code 0')
  await conn.waitClosed(5000)
  t.pass('client connection closed after the drain')
})

t.test('SIGTERM with nothing in flight exits 0 promptly', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 2, workers: 2 })
  const conn = await RespConnection.connect(cluster.port, { t })
  t.same(plain(await conn.call(['PING'])), { ok: 'PONG' })
  const started = Date.now()
  cluster.proxy.kill('SIGTERM')
  const status = await withDeadline(cluster.proxy.exited, 15_000, 'proxy exit after SIGTERM')
  t.same(status, { code: 0, signal: null }, 'exit code 0')
  t.ok(Date.now() - started < 3000, `exited within 3 s of SIGTERM with nothing to drain (${Date.now() - started} ms)`)
})
