// The proxy without its static read buffers (DYNOPROXY_NO_STATIC_READ=1: plain 'data' events, as on a Node whose internals
// the feature detection does not recognise): the same replies for pipelines, split frames and large values.
// It must never leave a process behind: the proxy and redis-servers are stopped in teardown.

import t from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection, encodeCommands } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

t.test('plain data events: pipelines, dribbled frames and 1 MiB values', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 2, env: { DYNOPROXY_NO_STATIC_READ: '1' } })
  const conn = await RespConnection.connect(cluster.port, { t })
  const cmds = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? ['SET', `pr:${i}`, `v${i}`] : ['GET', `pr:${i - 1}`]))
  const replies = await conn.pipeline(cmds, 20_000)
  const wrong = replies.filter((r, i) => (i % 2 === 0 ? r.kind !== 'simple' : plain(r) !== `v${i - 1}`))
  t.equal(wrong.length, 0, '5000 pipelined replies in order (+OK for SET, its value for GET)')
  // The same bytes written a few at a time: frames split at arbitrary points.
  const bytes = encodeCommands(Array.from({ length: 200 }, (_, i) => ['GET', `pr:${2 * i}`]))
  for (let o = 0; o < bytes.length; o += 7) conn.write(bytes.subarray(o, o + 7))
  const dribbled = await conn.read(200, 20_000)
  t.same(dribbled.map(plain), Array.from({ length: 200 }, (_, i) => `v${2 * i}`), 'dribbled frames answered in order')
  const big = Buffer.alloc(1024 * 1024, 0x61)
  t.same(plain(await conn.call(['SET', 'pr:big', big], 20_000)), { ok: 'OK' })
  const back = await conn.call(['GET', 'pr:big'], 20_000)
  t.ok(back.kind === 'bulk' && back.value !== null && Buffer.compare(back.value, big) === 0, '1 MiB value round trip')
})
