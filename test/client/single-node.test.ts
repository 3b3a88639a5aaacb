// DynoClient against a single-node proxy (no cluster): /cluster_describe of the node itself is the whole topology, and every
// command family works through it. It must never leave a client or process open: each is closed in teardown.

import { readFileSync } from 'node:fs'
import net from 'node:net'
import t from 'tap'
import { DynoClient } from 'dynoproxy/client'
import { startDynoproxy, defaultPool } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { freePort } from '../helpers/free-port.ts'
import { waitFor } from '../helpers/wait-for.ts'

/** A process's state letter from /proc (T: stopped). */
function procState(pid: number): string {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return f.slice(f.lastIndexOf(')') + 2, f.lastIndexOf(')') + 3)
}

const backends = await Promise.all([startRedis(t), startRedis(t)])
const [port, admin] = await Promise.all([freePort(), freePort()])
const node = await startDynoproxy(t, { config: { single: { ...defaultPool(port, backends, admin), datacenter: 'dc1', rack: 'rack1' } } })

const c = await DynoClient.connect({ seeds: [`http://127.0.0.1:${admin}`], dc: 'dc1', rack: 'rack1' })
t.teardown(() => c.close())

t.test('the single node is the topology: its client port, every key to it', async (t) => {
  t.equal(c.nodes.length, 1)
  t.equal(c.nodes[0]!.clientPort, port)
  t.equal(c.nodes[0]!.state, 'normal')
  t.equal(await c.set('s:k', 'v'), 'OK')
  t.equal(await c.get('s:k'), 'v')
  t.equal(await c.get('s:missing'), null)
})

t.test('ioredis signatures: hashes, lists, counters, buffers, callbacks, call()', async (t) => {
  t.equal(await c.hset('s:h', { a: '1', b: '2' }), 2)
  t.same(await c.hgetall('s:h'), { a: '1', b: '2' }, 'hgetall keeps ioredis\' object reply')
  t.equal(await c.rpush('s:l', 'x', 'y', 'z'), 3)
  t.same(await c.lrange('s:l', 0, -1), ['x', 'y', 'z'])
  t.equal(await c.incrby('s:n', 5), 5)
  t.same(await c.getBuffer('s:k'), Buffer.from('v'))
  t.equal(await c.call('GET', 's:k'), 'v')
  const viaCb = await new Promise((resolve, reject) => void c.get('s:k', (err, v) => (err ? reject(err) : resolve(v))))
  t.equal(viaCb, 'v', 'Node-style callback')
  t.equal(await c.ping(), 'PONG', 'a keyless command goes to some node')
  await t.rejects(c.hget('s:k', 'f'), /WRONGTYPE/, 'a Redis reply error reaches the caller as is')
})

t.test('multi-key: mget/mset/del/exists in caller order', async (t) => {
  t.equal(await c.mset({ 's:a': '1', 's:b': '2', 's:c': '3' }), 'OK')
  t.same(await c.mget(['s:c', 's:x', 's:a', 's:b']), ['3', null, '1', '2'])
  t.same(await c.mget('s:a', 's:b'), ['1', '2'], 'spread keys too')
  t.equal(await c.exists('s:a', 's:b', 's:x'), 2)
  t.equal(await c.del(['s:a', 's:b', 's:x']), 2)
  const p = c.pipeline()
  p.set('s:p1', 'a').get('s:p1').incr('s:p2').get('s:nope')
  t.same(await p.exec(), [[null, 'OK'], [null, 'a'], [null, 1], [null, null]])
})

t.test('commands the client cannot route are typed errors', async (t) => {
  await t.rejects(c.call('SUBSCRIBE', 'ch'), { name: 'DynoError', code: 'UNSUPPORTED_COMMAND' })
  await t.rejects(c.call('SELECT', '1'), { name: 'DynoError', code: 'UNSUPPORTED_COMMAND' })
  await t.rejects(c.call('BLPOP', 'q', '0'), { name: 'DynoError', code: 'UNSUPPORTED_COMMAND' }, 'a blocking call would stall a pooled connection')
  await t.rejects(c.call('WATCH', 'k'), { name: 'DynoError', code: 'UNSUPPORTED_COMMAND' })
  await t.rejects(c.call('NOSUCHCMD', 'x'), { name: 'DynoError', code: 'UNSUPPORTED_COMMAND' })
  await t.rejects(c.call('MSET', 'a'), { name: 'DynoError', code: 'BAD_ARGUMENTS' })
})

t.test('stats and Prometheus text', async (t) => {
  const s = c.stats()
  t.equal(s.nodes.length, 1)
  t.ok(s.nodes[0]!.requests > 10)
  t.ok(s.nodes[0]!.connections >= 1)
  t.ok(s.nodes[0]!.latencyUs.p50 > 0)
  t.match(c.metricsText(), /^dyno_client_requests_total\{node="127\.0\.0\.1:\d+",dc="dc1",rack="rack1"\} \d+$/m)
})

t.test('one tick of 1000 commands: each reply to its own caller, counted, and written in a few system calls', async (t) => {
  const before = c.stats().nodes[0]!
  const proto = net.Socket.prototype as unknown as { _write: (...a: unknown[]) => void, _writev: (...a: unknown[]) => void }
  const write = proto._write
  const writev = proto._writev
  let calls = 0
  proto._write = function (this: unknown, ...a: unknown[]) { calls++; return write.apply(this, a) }
  proto._writev = function (this: unknown, ...a: unknown[]) { calls++; return writev.apply(this, a) }
  let sets: unknown[]
  try {
    sets = await Promise.all(Array.from({ length: 500 }, (_, i) => c.set(`s:burst:${i}`, `v${i}`)))
  } finally {
    proto._write = write
    proto._writev = writev
  }
  t.ok(sets.every((r) => r === 'OK'))
  t.ok(calls >= 1 && calls < 10, `500 SETs left in ${calls} write calls`)
  const gets = await Promise.all(Array.from({ length: 500 }, (_, i) => c.get(`s:burst:${i}`)))
  t.same(gets, Array.from({ length: 500 }, (_, i) => `v${i}`), 'every GET answered with its own key\'s value')
  const after = c.stats().nodes[0]!
  t.equal(after.requests - before.requests, 1000, 'each command counted once')
  t.equal(after.latencyUs.count - before.latencyUs.count, 1000, 'each latency recorded once')
  t.equal(after.timeouts, before.timeouts)
})

t.test('request timeout: a busy connection that keeps answering never times out, however long it stays busy', async (t) => {
  const d = await DynoClient.connect({ seeds: [`http://127.0.0.1:${admin}`], pool: { requestTimeoutMs: 300 } })
  t.teardown(() => d.close())
  // 20 callers back to back for at least 1500 ms (5 timeouts): the connection is never idle in between.
  const t0 = performance.now()
  let done = 0
  let ok = 0
  const caller = async (n: number): Promise<void> => {
    for (let i = 0; i < 300_000 && performance.now() - t0 < 1500; i++) {
      if ((await d.set(`s:busy:${n}`, String(i))) === 'OK') ok++
      done++
    }
  }
  await Promise.all(Array.from({ length: 20 }, (_, n) => caller(n)))
  t.ok(performance.now() - t0 >= 1500 && done > 100, `${done} requests in ${Math.round(performance.now() - t0)} ms`)
  t.equal(ok, done, 'every one OK')
  const s = d.stats().nodes[0]!
  t.equal(s.timeouts, 0, 'no timeout')
  t.equal(s.recycled, 0, 'the connection kept')
})

t.test('consistency per call: DYNO_CONFIG on its own connections', async (t) => {
  const q = c.withConsistency('DC_QUORUM')
  t.equal(await q.set('s:q', '1'), 'OK')
  t.equal(await q.get('s:q'), '1')
  t.ok(c.stats().nodes[0]!.connections >= 2, 'a connection for the level beside the default one')
})

t.test('closed client rejects', async (t) => {
  const d = await DynoClient.connect({ seeds: [`http://127.0.0.1:${admin}`] })
  await d.close()
  await t.rejects(d.get('k'), { name: 'DynoError', code: 'CLOSED' })
})

t.test('request timeout: a stopped node fails the request after requestTimeoutMs, not before, counted as a timeout', async (t) => {
  const e = await DynoClient.connect({ seeds: [`http://127.0.0.1:${admin}`], pool: { requestTimeoutMs: 200 } })
  t.teardown(() => e.close())
  t.equal(await e.set('s:stop', '1'), 'OK', 'the connection is open')
  node.kill('SIGSTOP')
  try {
    await waitFor(() => procState(node.pid) === 'T', 5000, 'the node stopped')
    const t0 = performance.now()
    const got = await e.set('s:stop', '2').then((v) => ({ v }), (err: Error) => ({ err: `${err.name} ${(err as { code?: string }).code} ${err.message}` }))
    t.match(got, { err: /^DynoError NODE_UNAVAILABLE / }, `a write is not retried (${JSON.stringify(got)})`)
    const took = performance.now() - t0
    t.ok(took >= 195 && took < 1500, `failed after ${Math.round(took)} ms`)
  } finally {
    node.kill('SIGCONT')
  }
  const s = e.stats().nodes[0]!
  t.equal(s.timeouts, 1, 'one timeout')
  t.equal(s.recycled, 1, 'its connection recycled')
})
