// Crash containment (issue 13 part 6) against a real proxy: a throw while serving one connection closes that connection alone, answered and
// counted; an accept error pauses the listener and it resumes; real fd exhaustion (ulimit -n) ends no worker.
// It must never leave a flood of sockets open past its test: every socket it opens is destroyed, every wait has a deadline.

import net from 'node:net'
import t from 'tap'
import { startProxiedRedis, type ProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { canConnect, waitFor } from '../helpers/wait-for.ts'

async function metricSum(node: ProxiedRedis, name: string): Promise<number> {
  const text = await (await fetch(`http://${node.pool['stats_listen'] as string}/metrics`)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^dynoproxy_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

function logLines(node: ProxiedRedis, msg: string): Record<string, unknown>[] {
  return node.proxy.output().split('\n').filter((l) => l.includes(`"msg":"${msg}`)).map((l) => JSON.parse(l) as Record<string, unknown>)
}

t.test('an exception while serving one connection: that request gets an error naming the incident, that connection closes, the rest go on', async (t) => {
  const node = await startProxiedRedis(t, { backends: 2, workers: 1, env: { DYNOPROXY_TEST_HOOKS: '1' } })
  const others = await Promise.all(Array.from({ length: 8 }, () => RespConnection.connect(node.port, { t })))
  for (const [i, c] of others.entries()) t.same(plain(await c.call(['SET', `cc:${i}`, `v${i}`])), { ok: 'OK' })
  const before = await metricSum(node, 'requests_total')

  const victim = await RespConnection.connect(node.port, { t })
  // Pipelined: the GET before the throw is answered, then the error, then nothing more (the GET after it is not served).
  victim.send(['GET', 'cc:0'], ['DYNOPROXY.CRASH'], ['GET', 'cc:1'])
  const replies = await victim.read(2, 5000)
  t.equal(plain(replies[0]!), 'v0', 'the request before the throw is answered')
  t.equal(replies[1]!.kind, 'error')
  const text = String((replies[1] as { value: unknown }).value)
  t.match(text, /^ERR dynoproxy internal error (E\d+-\d+) while serving this request; this connection is closed/)
  const code = /(E\d+-\d+)/.exec(text)![1]
  await victim.waitClosed(5000)
  t.pass('the connection that threw is closed')

  for (const [i, c] of others.entries()) t.equal(plain(await c.call(['GET', `cc:${i}`])), `v${i}`, `connection ${i} on the same worker still served`)
  const fresh = await RespConnection.connect(node.port, { t })
  t.equal(plain(await fresh.call(['GET', 'cc:3'])), 'v3', 'a new connection is served')

  t.equal(await metricSum(node, 'client_exceptions_total'), 1, 'counted')
  t.equal(await metricSum(node, 'worker_restarts_total'), 0, 'no worker restarted')
  t.ok((await metricSum(node, 'requests_total')) > before, 'the same worker keeps counting')
  const logged = await waitFor(() => {
    const l = logLines(node, 'exception while serving a connection')
    return l.length > 0 ? l : null
  }, 5000, 'the exception in the log')
  t.equal(logged.length, 1)
  t.equal(logged[0]!['code'], code, 'the log line carries the code the client was given')
  t.match(logged[0]!['message'], /DYNOPROXY\.CRASH/)
  t.match(logged[0]!['stack'], /resp-dispatch\.ts/, 'with where it was thrown')
  t.match(logged[0]!['where'], /^127\.0\.0\.1:\d+$/)
})

t.test('an accept error (EMFILE) pauses the listener, logged; it listens again and serves', async (t) => {
  const node = await startProxiedRedis(t, { backends: 1, workers: 1, env: { DYNOPROXY_TEST_HOOKS: '1' } })
  const c = await RespConnection.connect(node.port, { t })
  const at = Date.now()
  t.same(plain(await c.call(['DYNOPROXY.CRASH', 'ACCEPT', 'EMFILE'])), { ok: 'OK' })
  t.notOk(await canConnect(node.port), 'not accepting while paused (the one worker closed its listener)')
  t.same(plain(await c.call(['PING'])), { ok: 'PONG' }, 'a connection already open is served while paused')
  await waitFor(() => canConnect(node.port), 10_000, 'the listener back', 50)
  t.ok(Date.now() - at >= 900, `paused about a second (${Date.now() - at} ms)`)
  const fresh = await RespConnection.connect(node.port, { t })
  t.same(plain(await fresh.call(['PING'])), { ok: 'PONG' })
  t.equal(await metricSum(node, 'accept_errors_total'), 1)
  t.equal(await metricSum(node, 'worker_restarts_total'), 0)
  const paused = logLines(node, 'out of file descriptors: accepting paused')
  t.equal(paused.length, 1)
  t.equal(paused[0]!['code'], 'EMFILE')
  t.match(paused[0]!['message'], /ulimit -n/)
  t.equal(logLines(node, 'accepting resumed').length, 1)
})

t.test('real fd exhaustion (ulimit -n 64, 300 connections at once): no worker ends, open clients are served, new ones once fds free', async (t) => {
  const node = await startProxiedRedis(t, { backends: 1, workers: 2, openFiles: 64 })
  const steady = await Promise.all(Array.from({ length: 4 }, () => RespConnection.connect(node.port, { t })))
  for (const [i, c] of steady.entries()) t.same(plain(await c.call(['SET', `fd:${i}`, `v${i}`])), { ok: 'OK' })

  const flood: net.Socket[] = []
  t.teardown(() => flood.forEach((s) => s.destroy()))
  let connected = 0
  let failed = 0
  let answered = 0
  let shed = 0
  await Promise.all(Array.from({ length: 300 }, () => new Promise<void>((resolve) => {
    const s = net.connect(node.port, '127.0.0.1', () => {
      connected++
      s.write('*1\r\n$4\r\nPING\r\n')
      resolve()
    })
    s.once('data', () => answered++)
    s.on('close', () => {
      if (s.bytesRead === 0) shed++
    })
    s.on('error', () => {
      failed++
      resolve()
    })
    flood.push(s)
  })))
  t.ok(connected + failed === 300, `the flood: ${connected} connected, ${failed} refused or reset`)
  // Served connections hold one of the few descriptors; the rest are shed by the proxy without a word or wait in the kernel's backlog.
  await waitFor(() => shed + failed > 0 && answered > 0, 10_000, 'the descriptor limit to be reached (a flood connection shed)', 50)
  t.ok(answered < 64, `the limit was reached: ${answered} answered, ${shed} shed, ${failed} failed (of 300)`)
  for (const [i, c] of steady.entries()) t.equal(plain(await c.call(['GET', `fd:${i}`])), `v${i}`, `open client ${i} served during the flood`)
  flood.forEach((s) => s.destroy())

  await waitFor(async () => {
    const fresh = await Promise.all(Array.from({ length: 8 }, () => RespConnection.connect(node.port)))
    try {
      const r = await Promise.all(fresh.map((c) => c.call(['GET', 'fd:1'], 2000)))
      return r.every((x) => plain(x) === 'v1')
    } finally {
      fresh.forEach((c) => c.destroy())
    }
  }, 15_000, 'new connections served once the flood is gone', 200)
  t.equal(await metricSum(node, 'worker_restarts_total'), 0, 'no worker ended')
  t.equal(await metricSum(node, 'client_exceptions_total'), 0)
  t.equal(node.proxy.output().includes('worker exited'), false)
})
