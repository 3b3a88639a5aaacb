// Whole-keyspace commands through a single-node pool of three redis-servers (raw RESP, ioredis scanStream): SCAN covers every key of
// every backend exactly once with MATCH / COUNT / TYPE, DBSIZE sums, KEYS / RANDOMKEY / FLUSHALL only when allowed; forged cursors refused.

import t from 'tap'
import { Redis } from 'ioredis'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const [open, closed] = await Promise.all([
  startProxiedRedis(t, { backends: 3, pool: { allow_keys: true, allow_flush: true } }),
  startProxiedRedis(t, { backends: 2 }),
])

async function scanAll(conn: RespConnection, extra: string[] = []): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  for (let i = 0; i < 10_000; i++) {
    const [next, batch] = plain(await conn.call(['SCAN', cursor, ...extra])) as [string, string[]]
    keys.push(...batch)
    cursor = next
    if (cursor === '0') return keys
  }
  throw new Error('SCAN never ended')
}

t.test('SCAN covers every key of every backend once; MATCH, COUNT and TYPE pass through; DBSIZE sums', async (t) => {
  const r = new Redis({ port: open.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => r.disconnect())
  const pipe = r.pipeline()
  for (let i = 0; i < 3000; i++) pipe.set(`k:${i}`, 'v')
  for (let i = 0; i < 50; i++) pipe.rpush(`list:${i}`, 'x')
  await pipe.exec()
  for (const b of open.backends) t.ok((plain(await b.call('DBSIZE')) as number) > 500, 'every backend holds a share')
  const conn = await RespConnection.connect(open.port, { t })
  const all = await scanAll(conn, ['COUNT', '200'])
  t.equal(all.length, 3050, 'every key')
  t.equal(new Set(all).size, 3050, 'once')
  t.equal((await scanAll(conn, ['MATCH', 'list:*'])).length, 50, 'MATCH')
  t.equal((await scanAll(conn, ['TYPE', 'list'])).length, 50, 'TYPE')
  t.equal(plain(await conn.call(['DBSIZE'])), 3050)
  // ioredis' scanStream iterates with the proxy's cursors as it would with Redis'.
  const streamed: string[] = []
  await new Promise<void>((resolve, reject) => {
    r.scanStream({ match: 'k:*', count: 500 }).on('data', (ks: string[]) => streamed.push(...ks)).on('end', resolve).on('error', reject)
  })
  t.equal(new Set(streamed).size, 3000, 'scanStream')
})

t.test('KEYS, RANDOMKEY and FLUSHALL when allowed', async (t) => {
  const conn = await RespConnection.connect(open.port, { t })
  t.equal((plain(await conn.call(['KEYS', 'list:*'])) as string[]).length, 50)
  const key = plain(await conn.call(['RANDOMKEY'])) as string
  t.equal(plain(await conn.call(['EXISTS', key])), 1, `RANDOMKEY gave an existing key (${key})`)
  t.same(plain(await conn.call(['FLUSHALL'])), { ok: 'OK' })
  for (const b of open.backends) t.equal(plain(await b.call('DBSIZE')), 0, 'every backend emptied')
  t.same(plain(await conn.call(['RANDOMKEY'])), null, 'nothing left')
})

t.test('forged cursors and defaults: refused with the reason, nothing done', async (t) => {
  const conn = await RespConnection.connect(closed.port, { t })
  for (const c of ['-1', 'abc', '99999999999999999999999', '1.5']) t.match(plain(await conn.call(['SCAN', c])), { err: /^ERR invalid cursor$/ }, `SCAN ${c}`)
  t.match(plain(await conn.call(['KEYS', '*'])), { err: /allow_keys/ })
  t.match(plain(await conn.call(['RANDOMKEY'])), { err: /allow_keys/ })
  await conn.call(['SET', 'survivor', '1'])
  t.match(plain(await conn.call(['FLUSHALL'])), { err: /allow_flush/ })
  t.match(plain(await conn.call(['FLUSHDB', 'ASYNC'])), { err: /allow_flush/ })
  t.equal(plain(await conn.call(['GET', 'survivor'])), '1', 'nothing flushed')
  const r = (await conn.pipeline([['MULTI'], ['SCAN', '0'], ['EXEC']])).map(plain)
  t.match(r[1], { err: /cannot be part of MULTI|every backend/ }, 'not inside MULTI')
  t.match(r[2], { err: /^EXECABORT/ })
})
