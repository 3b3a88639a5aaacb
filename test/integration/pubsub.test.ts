// Pub/sub through a single-node pool of two redis-servers and two data workers (ioredis and raw RESP): every subscriber gets every
// message once and in order, patterns and shard channels too, through one subscription connection per backend and worker; Redis'
// subscribed-mode rules; a subscriber that stops reading is cut off at the bound and nobody else notices.

import t from 'tap'
import { Redis } from 'ioredis'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const node = await startProxiedRedis(t, { backends: 2, workers: 2 })
const statsUrl = `http://${node.pool['stats_listen'] as string}/metrics`

async function metricSum(name: string): Promise<number> {
  const text = await (await fetch(statsUrl)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^dynoproxy_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

function client(): Redis {
  const redis = new Redis({ port: node.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  return redis
}

t.test('SUBSCRIBE then RESET before the worker\'s subscription connection is up: confirmed, then reset (fuzz finding: it hung for good)', async (t) => {
  // A fresh proxy: no subscription connection exists yet. The RESET took the names back before the connection was up, so the
  // SUBSCRIBE never went out, was never confirmed, and every later reply of that client waited behind it.
  const fresh = await startProxiedRedis(t, { backends: 2 })
  const conn = await RespConnection.connect(fresh.port, { t })
  const enc = (...a: string[]): Buffer => Buffer.concat([Buffer.from(`*${a.length}\r\n`), ...a.flatMap((x) => [Buffer.from(`$${Buffer.byteLength(x, 'latin1')}\r\n`), Buffer.from(`${x}\r\n`, 'latin1')])])
  // The fuzz suite's input, byte for byte (its TOUCH is split over both datastores).
  conn.write(Buffer.concat([
    enc('subscribe', '94820', '\xf7l\x83^U', '\xb6u\xa3\xed\x12', 'eleO', 'T*8'),
    enc('reset'),
    enc('touch', 'fz\x1fdN\xa7\xad.\xe0\xab\x7f\xc4', '\x07rr\xcc\xc7\xb2\x1cf', '`|aky<^Q'),
  ]))
  const replies = (await conn.read(7, 5000)).map(plain)
  t.same(replies.slice(0, 5).map((r) => (r as unknown[])[2]), [1, 2, 3, 4, 5], 'five subscribe confirmations')
  t.same(replies.slice(5), [{ ok: 'RESET' }, 0], 'then RESET and the TOUCH\'s count')
  t.same(plain(await conn.call(['PING'])), { ok: 'PONG' }, 'and the connection goes on')
})

t.test('200 subscribers of a channel and a pattern: 50 messages each, once, in order; few backend connections', async (t) => {
  const subs = Array.from({ length: 200 }, () => client())
  const got = subs.map(() => [] as string[])
  const pgot = subs.map(() => [] as string[])
  await Promise.all(subs.map(async (s, i) => {
    s.on('message', (_ch: string, m: string) => got[i]!.push(m))
    s.on('pmessage', (_p: string, _ch: string, m: string) => pgot[i]!.push(m))
    await s.subscribe('news')
    await s.psubscribe('ev:*')
  }))
  const pub = client()
  let receivers = 0
  for (let i = 0; i < 50; i++) {
    receivers += await pub.publish('news', `n${i}`)
    await pub.publish(`ev:${i % 3}`, `e${i}`)
  }
  t.ok(receivers >= 50, 'PUBLISH answers with receivers (subscription connections)')
  await waitFor(() => got.every((g) => g.length === 50) && pgot.every((g) => g.length === 50), 15_000, 'every message delivered')
  const want = Array.from({ length: 50 }, (_v, i) => `n${i}`)
  t.ok(got.every((g) => JSON.stringify(g) === JSON.stringify(want)), 'once and in order, for every subscriber')
  t.ok(pgot.every((g) => g[0] === 'e0' && g[49] === 'e49'), 'patterns too')
  // Each backend sees at most one subscription connection per worker, whatever the number of subscribers.
  for (const b of node.backends) {
    const list = String(plain(await b.call('CLIENT', 'LIST')))
    const subscribed = list.split('\n').filter((l) => / sub=[1-9]| psub=[1-9]/.test(l)).length
    t.ok(subscribed <= 2, `${subscribed} subscription connections on a backend for 200 subscribers`)
  }
  t.ok((await metricSum('pubsub_messages_total')) >= 200 * 100, 'deliveries counted')
  const q = await RespConnection.connect(node.port, { t })
  t.same(plain(await q.call(['PUBSUB', 'CHANNELS'])), ['news'], 'PUBSUB CHANNELS: the union over both backends, once')
  t.same(plain(await q.call(['PUBSUB', 'CHANNELS', 'n*'])), ['news'])
  t.same(plain(await q.call(['PUBSUB', 'CHANNELS', 'x*'])), [])
  t.equal(plain(await q.call(['PUBSUB', 'NUMPAT'])), 1, 'PUBSUB NUMPAT: unique patterns')
  t.same(plain(await q.call(['PUBSUB', 'NUMSUB', 'news', 'nobody'])), ['news', 200, 'nobody', 0], 'PUBSUB NUMSUB: the clients, over both workers')
  t.same(plain(await q.call(['PUBSUB', 'NUMSUB'])), [], 'no channel: an empty answer')
  t.same(plain(await q.call(['PUBSUB', 'SHARDNUMSUB', 'news'])), ['news', 0], 'SHARDNUMSUB counts shard subscribers only')
})

t.test('subscribed mode: Redis\' rules and words; PING; counts; UNSUBSCRIBE all returns to normal', async (t) => {
  const c = await RespConnection.connect(node.port, { t })
  t.same(plain(await c.call(['SUBSCRIBE', 'a', 'b'])), ['subscribe', 'a', 1])
  t.same(plain((await c.read(1))[0]!), ['subscribe', 'b', 2])
  t.same(plain(await c.call(['PSUBSCRIBE', 'p*'])), ['psubscribe', 'p*', 3])
  t.match(plain(await c.call(['GET', 'x'])), { err: /^ERR Can't execute 'get': only \(P\|S\)SUBSCRIBE \/ \(P\|S\)UNSUBSCRIBE \/ PING \/ QUIT \/ RESET are allowed in this context$/ })
  t.same(plain(await c.call(['PING'])), ['pong', ''])
  t.same(plain(await c.call(['PING', 'hi'])), ['pong', 'hi'])
  t.same(plain(await c.call(['UNSUBSCRIBE', 'a'])), ['unsubscribe', 'a', 2])
  t.same(plain(await c.call(['PUNSUBSCRIBE'])), ['punsubscribe', 'p*', 1])
  t.same(plain(await c.call(['UNSUBSCRIBE'])), ['unsubscribe', 'b', 0])
  t.same(plain(await c.call(['UNSUBSCRIBE'])), ['unsubscribe', null, 0], 'nothing left')
  t.same(plain(await c.call(['SET', 'after', '1'])), { ok: 'OK' }, 'normal commands again')
  t.same(plain(await c.call(['SSUBSCRIBE', '{s}ch'])), ['ssubscribe', '{s}ch', 1])
  t.equal(await client().spublish('{s}ch', 'shard-msg'), 1)
  t.same(plain((await c.read(1))[0]!), ['smessage', '{s}ch', 'shard-msg'])
  t.same(plain(await c.call(['RESET'])), { ok: 'RESET' })
  t.same(plain(await c.call(['GET', 'after'])), '1', 'RESET left subscribed mode')
})

t.test('a subscriber that never reads is disconnected at the bound; the others get everything', async (t) => {
  const reader = client()
  let read = 0
  reader.on('message', () => read++)
  await reader.subscribe('big')
  const stuck = await RespConnection.connect(node.port, { t })
  t.same(plain(await stuck.call(['SUBSCRIBE', 'big'])), ['subscribe', 'big', 1])
  stuck.socket.pause()
  const pub = client()
  const payload = 'x'.repeat(1024 * 1024)
  for (let i = 0; i < 80; i++) {
    // Paced to the reading subscriber (at most 8 MiB ahead of it), so only the stuck one passes the 32 MiB bound even on a loaded machine.
    await waitFor(() => read >= i - 8, 20_000, 'the reader keeps up', 5)
    await pub.publish('big', payload)
  }
  await waitFor(() => read === 80, 20_000, 'the reading subscriber got all 80 MiB')
  await waitFor(async () => (await metricSum('pubsub_slow_disconnects_total')) >= 1, 10_000, 'the stuck one was cut off')
  t.pass('bounded')
})
