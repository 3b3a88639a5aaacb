// ioredis as a real client of dynoproxy: default (RESP3-first) handshake, typed commands, 10,000-command pipelines, MULTI, binary.
// It must never mask proxy failures with client retries: retries and offline queueing are switched off.

import t from 'tap'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'

const [cluster, direct] = await Promise.all([startProxiedRedis(t, { backends: 3 }), startRedis(t)])

function client(port: number, extra: RedisOptions = {}): Redis {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    protocol: 2,
    ...extra,
  })
  t.teardown(() => redis.disconnect())
  return redis
}

t.test('default ioredis options (RESP3 handshake first) connect and work', async (t) => {
  const redis = new Redis({ port: cluster.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  t.teardown(() => redis.disconnect())
  await redis.connect()
  t.equal(redis.status, 'ready')
  t.equal(await redis.set('io:default', 'hello'), 'OK')
  t.equal(await redis.get('io:default'), 'hello')
  t.same(await redis.mget('io:default', 'io:nothing'), ['hello', null])
})

t.test('typed commands give the same results as against Redis directly', async (t) => {
  const run = async (redis: Redis): Promise<unknown[]> => {
    await redis.connect()
    return [
      await redis.set('io:s', 'v', 'EX', 100),
      await redis.get('io:s'),
      await redis.incrby('io:n', 5),
      await redis.hset('io:h', { a: '1', b: '2' }),
      await redis.hgetall('io:h'),
      await redis.zadd('io:z', 1, 'one', 2, 'two'),
      await redis.zrange('io:z', '0', '-1', 'WITHSCORES'),
      await redis.rpush('io:l', 'x', 'y', 'z'),
      await redis.lrange('io:l', 0, -1),
      await redis.sadd('io:set', '1', '2', '3'),
      await redis.smembers('io:set'),
      await redis.mset({ 'io:m1': 'a', 'io:m2': 'b', 'io:m3': 'c' }),
      await redis.mget('io:m3', 'io:none', 'io:m1'),
      await redis.exists('io:m1', 'io:m2', 'io:none'),
      await redis.del('io:m1', 'io:m2', 'io:m3', 'io:none'),
      await redis.eval("return redis.call('GET', KEYS[1])", 1, 'io:s'),
      await redis.xadd('io:x', '1-1', 'f', 'v'),
      await redis.xrange('io:x', '-', '+'),
      await redis.pfadd('io:hll', 'a', 'b', 'c'),
      await redis.pfcount('io:hll'),
      await redis.geoadd('io:geo', 13.361389, 38.115556, 'Palermo'),
      await redis.geopos('io:geo', 'Palermo'),
      await redis.setbit('io:bits', 9, 1),
      await redis.bitcount('io:bits'),
      await redis.type('io:h'),
      await redis.get('io:h').catch((err: Error) => `error: ${err.message}`),
    ]
  }
  const [viaProxy, viaRedis] = await Promise.all([run(client(cluster.port)), run(client(direct.port))])
  t.same(viaProxy, viaRedis)
})

t.test('a 10,000-command ioredis pipeline', async (t) => {
  const redis = client(cluster.port)
  await redis.connect()
  const p = redis.pipeline()
  for (let i = 0; i < 5000; i++) p.set(`io:p:${i}`, `v${i}`)
  for (let i = 0; i < 5000; i++) p.get(`io:p:${(i * 7) % 5000}`)
  const results = await p.exec()
  t.equal(results?.length, 10_000)
  t.notOk(results?.some(([err]) => err !== null), 'no command failed')
  const gets = results?.slice(5000).map(([, v]) => v)
  t.same(gets, Array.from({ length: 5000 }, (_, i) => `v${(i * 7) % 5000}`), 'GETs answer in order')
  const keys = Array.from({ length: 5000 }, (_, i) => `io:p:${i}`)
  t.equal(await redis.del(...keys), 5000, 'DEL of 5000 keys across backends sums to 5000')
})

t.test('MULTI/EXEC with a hash tag', async (t) => {
  const redis = client(cluster.port)
  await redis.connect()
  const res = await redis.multi().set('{io}a', '1').incr('{io}a').get('{io}a').exec()
  t.same(res, [[null, 'OK'], [null, 2], [null, '2']])
})

t.test('binary values and keys via Buffers', async (t) => {
  const redis = client(cluster.port)
  await redis.connect()
  const key = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x7b, 0x7d])
  const value = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))
  t.equal(await redis.set(key, value), 'OK')
  const got = await redis.getBuffer(key)
  t.ok(got !== null && got.equals(value), 'exact bytes back')
  const big = Buffer.alloc(1024 * 1024, 0xab)
  await redis.set('io:1m', big)
  const bigBack = await redis.getBuffer('io:1m')
  t.ok(bigBack !== null && bigBack.equals(big), '1 MiB value round-trips')
})

t.test('refused commands surface as ioredis ReplyErrors, connection stays ready', async (t) => {
  const redis = client(cluster.port)
  await redis.connect()
  await t.rejects(redis.keys('*'), { name: 'ReplyError' })
  await t.rejects(redis.flushall(), { name: 'ReplyError' })
  t.equal(await redis.ping(), 'PONG')
  t.equal(redis.status, 'ready')
})
