// Tests of the memcached test helpers themselves: the reply framer and the memcached launcher.
// It must never depend on dynoproxy: if these fail, every other memcached result is meaningless.

import t from 'tap'
import { McConnection } from '../helpers/memcached-connection.ts'
import { McReplyReader } from '../helpers/memcached-reply-reader.ts'
import { startMemcached } from '../helpers/memcached.ts'

const fixture = Buffer.from(
  'STORED\r\nVALUE a 5 3 99\r\na\r\n\r\nVALUE bb 0 0\r\n\r\nEND\r\nEND\r\nVA 5 f1 O9\r\nEND\r\n\r\nHD\r\nSTAT pid 1\r\nSTAT x y\r\nEND\r\n' +
    'SERVER_ERROR out of memory\r\n42\r\nMN\r\n',
  'latin1',
)
const heads = ['STORED', 'VALUE a 5 3 99', 'END', 'VA 5 f1 O9', 'HD', 'STAT pid 1', 'SERVER_ERROR out of memory', '42', 'MN']

t.test('reply framer: whole, and split at every byte', async (t) => {
  const whole = new McReplyReader()
  whole.push(fixture)
  const replies = whole.take(100)
  t.same(replies.map((r) => r.head), heads)
  t.equal(Buffer.concat(replies.map((r) => r.raw)).toString('latin1'), fixture.toString('latin1'), 'frames cover every byte')
  for (let cut = 1; cut < fixture.length; cut++) {
    const r = new McReplyReader()
    r.push(fixture.subarray(0, cut))
    r.push(fixture.subarray(cut))
    const got = r.take(100).map((x) => x.head)
    if (got.join('|') !== heads.join('|') || r.bufferedBytes !== 0) t.fail(`split at ${cut}: ${got.join('|')}`)
  }
  const bytewise = new McReplyReader()
  for (let i = 0; i < fixture.length; i++) bytewise.push(fixture.subarray(i, i + 1))
  t.same(bytewise.take(100).map((r) => r.head), heads, 'one byte at a time')
})

t.test('reply framer: garbage throws instead of being guessed at', async (t) => {
  t.throws(() => new McReplyReader().push(Buffer.from('VALUE a 0 3\r\nabcd\r\nEND\r\n')))
  t.throws(() => new McReplyReader().push(Buffer.from('VALUE a 0\r\n')))
  t.throws(() => new McReplyReader().push(Buffer.from('VALUE a 0 1\r\nx\r\nSTORED\r\n')))
  t.throws(() => new McReplyReader().push(Buffer.from('HD\nEN\r\n')))
})

t.test('memcached launcher', async (t) => {
  const mc = await startMemcached(t)
  const conn = await McConnection.connect(mc.port, { t })
  t.match(await conn.head('version\r\n'), /^VERSION 1\.6\./)
})
