// Tests of the integration-test helpers themselves: the RESP reply reader, the raw client, redis-server lifecycle.
// It must never depend on dynoproxy: if these fail, every other integration result is meaningless.

import t from 'tap'
import { startRedis } from '../helpers/redis-server.ts'
import { RespConnection, encodeCommand } from '../helpers/resp-connection.ts'
import { RespReplyReader, plain } from '../helpers/resp-reply-reader.ts'
import { canConnect, waitFor } from '../helpers/wait-for.ts'

const fixture = Buffer.concat([
  Buffer.from('+OK\r\n-ERR bad thing\r\n:-42\r\n$-1\r\n*-1\r\n$0\r\n\r\n'),
  Buffer.from('$5\r\na\r\nbc\r\n*3\r\n:1\r\n*2\r\n+x\r\n$1\r\ny\r\n$2\r\n\x00\xff\r\n', 'latin1'),
  Buffer.from('%1\r\n+k\r\n,1.5\r\n_\r\n#t\r\n'),
])
const expected = [
  { ok: 'OK' },
  { err: 'ERR bad thing' },
  -42,
  null,
  null,
  '',
  'a\r\nbc',
  [1, [{ ok: 'x' }, 'y'], '\x00\xff'],
  { map: [{ ok: 'k' }, '1.5'] },
  null,
  true,
]

t.test('reply reader: whole, and split at every byte', async (t) => {
  const whole = new RespReplyReader()
  whole.push(fixture)
  t.same(whole.take(100).map(plain), expected)
  for (let cut = 1; cut < fixture.length; cut++) {
    const r = new RespReplyReader()
    r.push(fixture.subarray(0, cut))
    r.push(fixture.subarray(cut))
    t.same(r.take(100).map(plain), expected, `split at ${cut}`)
    if (r.bufferedBytes !== 0) t.fail(`bytes left after split at ${cut}`)
  }
  const bytewise = new RespReplyReader()
  for (let i = 0; i < fixture.length; i++) bytewise.push(fixture.subarray(i, i + 1))
  t.same(bytewise.take(100).map(plain), expected, 'one byte at a time')
})

t.test('reply reader: rejects garbage instead of guessing', async (t) => {
  t.throws(() => new RespReplyReader().push(Buffer.from('?what\r\n')))
  t.throws(() => new RespReplyReader().push(Buffer.from(':12a\r\n')))
  t.throws(() => new RespReplyReader().push(Buffer.from('$3\r\nabcd\r\n')))
})

t.test('reply reader: a 16 MiB bulk in 64 KiB chunks', async (t) => {
  const value = Buffer.alloc(16 * 1024 * 1024, 0x61)
  value[12345] = 0x0d
  const frame = Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n+OK\r\n')])
  const r = new RespReplyReader()
  for (let i = 0; i < frame.length; i += 65536) r.push(frame.subarray(i, i + 65536))
  const [bulk, ok] = r.take(2)
  t.ok(bulk?.kind === 'bulk' && bulk.value !== null && bulk.value.equals(value), 'bulk bytes equal')
  t.same(ok && plain(ok), { ok: 'OK' })
})

t.test('encodeCommand frames binary args', async (t) => {
  t.same(encodeCommand(['SET', Buffer.from([0, 13, 10]), 7]), Buffer.from('*3\r\n$3\r\nSET\r\n$3\r\n\x00\r\n\r\n$1\r\n7\r\n', 'latin1'))
})

t.test('startRedis: serves, stops, restarts on the same port', async (t) => {
  const redis = await startRedis(t)
  const conn = await RespConnection.connect(redis.port, { t })
  const replies = await conn.pipeline([['SET', 'k', 'v'], ['GET', 'k'], ['INCR', 'k']])
  t.same(replies.map(plain), [{ ok: 'OK' }, 'v', { err: 'ERR value is not an integer or out of range' }])
  redis.kill('SIGKILL')
  await redis.exited
  await conn.waitClosed()
  await waitFor(async () => !(await canConnect(redis.port)), 5000, 'port to close')
  const again = await startRedis(t, { port: redis.port })
  t.equal(again.port, redis.port)
  t.same(plain(await again.call('GET', 'k')), null, 'fresh server is empty')
  const status = await again.stop()
  t.equal(status.code, 0, 'SIGTERM stops redis-server cleanly')
})

t.test('a stopped (SIGSTOP) server is still stopped cleanly', async (t) => {
  const redis = await startRedis(t)
  redis.kill('SIGSTOP')
  const status = await redis.stop()
  t.ok(status.code === 0 || status.signal !== null, 'exited')
})
