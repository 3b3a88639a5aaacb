// Blocking commands through a single-node pool (ioredis and raw RESP, real redis-server): each call blocks on a backend connection of its
// own, never on a shared one; timeouts are the client's; a client that leaves mid-block pops nothing; max_blocking_connections is a bound.

import t from 'tap'
import { Redis } from 'ioredis'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const [node, queueNode] = await Promise.all([
  startProxiedRedis(t, { backends: 1, workers: 1, pool: { timeout: 300, max_blocking_connections: 40 } }),
  startProxiedRedis(t, { backends: 2, workers: 2 }),
])
const statsUrl = `http://${node.pool['stats_listen'] as string}/metrics`
const direct = node.backends[0]!

async function metricSum(name: string): Promise<number> {
  const text = await (await fetch(statsUrl)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^dynoproxy_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

function client(port = node.port): Redis {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  return redis
}

t.test('a job queue: 100 BRPOP consumers (two workers, default bounds), 300 jobs pushed by another client, each delivered exactly once', async (t) => {
  const producer = client(queueNode.port)
  const consumers = Array.from({ length: 100 }, () => client(queueNode.port))
  const got: string[] = []
  let stop = false
  const loops = consumers.map(async (c) => {
    for (let i = 0; i < 1000 && !stop; i++) {
      const r = await c.brpop('{q}jobs', 1)
      if (r !== null) got.push(r[1])
    }
  })
  // The shared connections stay free while 20 calls block: a GET from another client is answered at once.
  await new Promise((r) => setTimeout(r, 200))
  const started = Date.now()
  t.equal(await producer.get('{q}nothing'), null)
  t.ok(Date.now() - started < 250, 'plain commands are not stuck behind blocked calls')
  for (let i = 0; i < 300; i++) await producer.lpush('{q}jobs', `job${i}`)
  await waitFor(() => got.length >= 300, 20_000, 'every job consumed')
  stop = true
  await Promise.all(loops)
  t.equal(got.length, 300, 'no job twice')
  t.equal(new Set(got).size, 300, 'every job once')
  const queueStats = `http://${queueNode.pool['stats_listen'] as string}/metrics`
  const sum = async (name: string): Promise<number> => {
    let total = 0
    for (const m of (await (await fetch(queueStats)).text()).matchAll(new RegExp(`^dynoproxy_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))) total += Number(m[1])
    return total
  }
  await waitFor(async () => (await sum('server_pinned_connections')) === 0, 5000, 'connections given back')
  t.ok((await sum('blocking_calls_total')) >= 300, 'calls counted')
})

t.test('timeouts are the client\'s (longer than the pool timeout of 300 ms); each command of the family', async (t) => {
  const c = await RespConnection.connect(node.port, { t })
  const started = Date.now()
  t.same(plain(await c.call(['BLPOP', '{b}empty', '1'], 5000)), null, 'nil after the call\'s own timeout, not a proxy timeout error')
  const took = Date.now() - started
  t.ok(took >= 900 && took < 4000, `took ${took} ms`)
  const other = client()
  const pushLater = (f: () => Promise<unknown>): void => void setTimeout(() => void f(), 150)
  pushLater(() => other.rpush('{b}l', 'a', 'b', 'c'))
  t.same(plain(await c.call(['BLMOVE', '{b}l', '{b}dst', 'LEFT', 'RIGHT', '5'], 6000)), 'a')
  t.same(plain(await c.call(['BRPOPLPUSH', '{b}l', '{b}dst', '5'])), 'c')
  t.same(plain(await c.call(['BLMPOP', '5', '1', '{b}l', 'LEFT', 'COUNT', '5'])), ['{b}l', ['b']])
  pushLater(() => other.zadd('{b}z', 1, 'one', 2, 'two'))
  t.same(plain(await c.call(['BZPOPMIN', '{b}z', '5'], 6000)), ['{b}z', 'one', '1'])
  t.same(plain(await c.call(['BZMPOP', '5', '1', '{b}z', 'MAX'])), ['{b}z', [['two', '2']]])
  const id = await other.xadd('{b}s', '*', 'f', 'v')
  t.same(plain(await c.call(['XREAD', 'BLOCK', '2000', 'STREAMS', '{b}s', '0'])), [['{b}s', [[id, ['f', 'v']]]]], 'XREAD BLOCK')
  pushLater(() => other.xadd('{b}s', '*', 'g', 'w'))
  const later = plain(await c.call(['XREAD', 'BLOCK', '5000', 'STREAMS', '{b}s', '$'], 6000)) as unknown[][]
  t.equal(later[0]![0], '{b}s', 'XREAD BLOCK $ woken by a later XADD')
  t.same(plain(await c.call(['BLPOP', '{b}x', '{other}y', '1'], 5000)), null, 'several keys of one datastore: nil after the timeout')
})

t.test('a client that leaves mid-block pops nothing, and its connection is closed, not reused', async (t) => {
  const c = await RespConnection.connect(node.port, { t })
  c.send(['BLPOP', '{left}q', '0'])
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 1, 5000, 'the call holds a connection')
  c.destroy()
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 0, 5000, 'given up')
  await direct.call('RPUSH', '{left}q', 'kept')
  await new Promise((r) => setTimeout(r, 200))
  t.same(plain(await direct.call('LRANGE', '{left}q', '0', '-1')), ['kept'], 'nobody popped it')
  const blocked = plain(await direct.call('INFO', 'clients')) as string
  t.match(blocked, /blocked_clients:0/, 'the datastore has no blocked client left')
})

t.test('max_blocking_connections: past 40 blocked calls the next is refused at once; room again once one answers', async (t) => {
  const conns = await Promise.all(Array.from({ length: 40 }, () => RespConnection.connect(node.port, { t })))
  for (const c of conns) c.send(['BLPOP', '{max}q', '0'])
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 40, 5000, '40 blocked')
  const extra = await RespConnection.connect(node.port, { t })
  const started = Date.now()
  t.match(plain(await extra.call(['BLPOP', '{max}q', '0'])), { err: /max_blocking_connections/ })
  t.ok(Date.now() - started < 1000, 'at once')
  t.same(plain(await extra.call(['GET', '{max}x'])), null, 'the client still works')
  await direct.call('RPUSH', '{max}q', 'one')
  const answers = await Promise.race(conns.map(async (c) => c.read(1, 5000)))
  t.same(plain(answers[0]!), ['{max}q', 'one'], 'one call answered')
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 39, 5000, 'its connection given back')
  extra.send(['BLPOP', '{max}q', '0'])
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 40, 5000, 'room for one more')
  for (const c of [...conns, extra]) c.destroy()
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 0, 5000, 'all given up')
})
