// RESP3 through the proxy (HELLO 3): a differential against a direct Redis 7 speaking RESP3 — the same commands, the same typed replies
// (maps, sets, doubles, nulls, pushes), including requests split over two backends and pub/sub pushes; HELLO 2 switches back.

import t from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { RespConnection, type CommandArg } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const [node, direct] = await Promise.all([startProxiedRedis(t, { backends: 2 }), startRedis(t)])

const COMMANDS: CommandArg[][] = [
  ['SET', 'r3:s', 'v'], ['GET', 'r3:s'], ['GET', 'r3:missing'],
  ['HSET', 'r3:h', 'f', '1'], ['HGETALL', 'r3:h'], ['HGETALL', 'r3:none'],
  ['SADD', 'r3:set', 'only'], ['SMEMBERS', 'r3:set'],
  ['ZADD', 'r3:z', '1.5', 'm'], ['ZSCORE', 'r3:z', 'm'], ['ZRANGE', 'r3:z', '0', '-1', 'WITHSCORES'], ['ZINCRBY', 'r3:z', '1', 'm'],
  ['INCRBYFLOAT', 'r3:f', '0.25'], ['EXISTS', 'r3:s'], ['TTL', 'r3:s'],
  ['MSET', 'r3:a', '1', 'r3:b', '2', 'r3:c', '3'], ['MGET', 'r3:a', 'r3:nope', 'r3:b', 'r3:c'],
  ['DEL', 'r3:a', 'r3:b'], ['CONFIG', 'GET', 'maxmemory-policy'], ['OBJECT', 'ENCODING', 'r3:s'],
  ['XADD', 'r3:x', '1-1', 'f', 'v'], ['XRANGE', 'r3:x', '-', '+'], ['HRANDFIELD', 'r3:none'], ['LPOS', 'r3:none', 'x'],
]

t.test('HELLO 3: every reply typed as a direct Redis 7 types it', async (t) => {
  const p = await RespConnection.connect(node.port, { t })
  const d = await RespConnection.connect(direct.port, { t })
  const hp = plain(await p.call(['HELLO', '3']))
  const hd = plain(await d.call(['HELLO', '3']))
  t.same(Object.keys(hp as object), Object.keys(hd as object), 'HELLO 3: a map')
  for (const cmd of COMMANDS) {
    const a = await p.call(cmd)
    const b = await d.call(cmd)
    t.same(a, b, cmd.join(' '))
  }
  t.equal((await p.call(['HELLO', '2'])).kind, 'array', 'HELLO 2: back to RESP2, an array')
  await d.call(['HELLO', '2'])
  t.same(await p.call(['HGETALL', 'r3:h']), await d.call(['HGETALL', 'r3:h']), 'RESP2 again: a flat array')
})

t.test('RESP3 pub/sub: confirmations and messages are pushes; other commands run while subscribed', async (t) => {
  const p = await RespConnection.connect(node.port, { t })
  await p.call(['HELLO', '3'])
  const conf = await p.call(['SUBSCRIBE', 'r3ch'])
  t.equal(conf.kind, 'push', 'the confirmation is a push')
  t.same(plain(await p.call(['GET', 'r3:s'])), 'v', 'a GET while subscribed (RESP3)')
  const pub = await RespConnection.connect(node.port, { t })
  t.equal(plain(await pub.call(['PUBLISH', 'r3ch', 'hello'])), 1)
  const [msg] = await p.read(1)
  t.equal(msg!.kind, 'push')
  t.same(plain(msg!), { push: ['message', 'r3ch', 'hello'] })
})

t.test('RESP3 through WATCH and a blocking call', async (t) => {
  const p = await RespConnection.connect(node.port, { t })
  await p.call(['HELLO', '3'])
  t.same(plain(await p.call(['WATCH', 'r3:w'])), { ok: 'OK' })
  t.same((await p.pipeline([['MULTI'], ['HSET', 'r3:w', 'f', 'v'], ['HGETALL', 'r3:w'], ['EXEC']])).map((r) => r.kind), ['simple', 'simple', 'simple', 'array'])
  const exec = (await p.call(['HGETALL', 'r3:w']))
  t.equal(exec.kind, 'map', 'a map after the watched transaction')
  t.equal((await p.call(['BLPOP', 'r3:empty', '0.2'], 3000)).kind, 'null', 'a timed-out BLPOP is RESP3 null')
})

t.test('bad input: HELLO 4, HELLO x, blocking timeouts that are negative or huge, 100,000 channels in one SUBSCRIBE', async (t) => {
  const p = await RespConnection.connect(node.port, { t })
  const d = await RespConnection.connect(direct.port, { t })
  for (const v of ['4', '1', 'x', '99999999999999999999']) t.same(await p.call(['HELLO', v]), await d.call(['HELLO', v]), `HELLO ${v}: Redis' answer`)
  for (const timeout of ['-1', '1e20', 'abc']) {
    const started = Date.now()
    t.same(await p.call(['BLPOP', 'r3:q', timeout], 5000), await d.call(['BLPOP', 'r3:q', timeout], 5000), `BLPOP timeout ${timeout}: Redis' error`)
    t.ok(Date.now() - started < 3000, 'at once')
  }
  const many = Array.from({ length: 100_000 }, (_v, i) => `ch:${i}`)
  p.send(['SUBSCRIBE', ...many])
  const confirmations = await p.read(100_000, 60_000)
  t.same(plain(confirmations[99_999]!), ['subscribe', 'ch:99999', 100_000], 'every channel confirmed, counted')
  t.same(plain(await p.call(['UNSUBSCRIBE', 'ch:0'])), ['unsubscribe', 'ch:0', 99_999])
  p.destroy()
  const after = await RespConnection.connect(node.port, { t })
  t.same(plain(await after.call(['PING'])), { ok: 'PONG' }, 'the proxy is fine')
})
