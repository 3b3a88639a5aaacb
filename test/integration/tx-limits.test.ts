// MULTI bounds on a single-node pool: max_tx_commands (default 10,000) and max_tx_bytes, with raw pipelines as a client queueing without end would send.
// It must never leave a process behind (helpers stop them in teardown) nor queue more than a bounded pipeline of small commands.

import t from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const [byDefault, small] = await Promise.all([
  startProxiedRedis(t, { backends: 1 }),
  startProxiedRedis(t, { backends: 2, pool: { max_tx_commands: 3, max_tx_bytes: 1024 } }),
])

t.test('the default bound: 10,000 commands queue, the 10,001st is refused, EXEC aborts, nothing applied', async (t) => {
  const conn = await RespConnection.connect(byDefault.port, { t })
  const cmds: string[][] = [['MULTI']]
  for (let i = 0; i < 10_001; i++) cmds.push(['SET', `{lim}k${i}`, 'v'])
  cmds.push(['PING'], ['EXEC'])
  const replies = (await conn.pipeline(cmds, 30_000)).map(plain)
  t.equal(replies.filter((r) => (r as { ok?: string }).ok === 'QUEUED').length, 10_000, '10,000 QUEUED')
  t.match(replies[10_001], { err: /at most 10000 commands \(max_tx_commands\)/ })
  t.match(replies[10_002], { err: /max_tx_commands/ }, 'and every command past it')
  t.match(replies[10_003], { err: /^EXECABORT/ })
  t.equal(plain(await byDefault.backends[0]!.call('DBSIZE')), 0, 'nothing reached the backend')
  t.same((await conn.pipeline([['MULTI'], ['SET', '{lim}k0', 'ok'], ['EXEC']])).map(plain), [{ ok: 'OK' }, { ok: 'QUEUED' }, [{ ok: 'OK' }]], 'the next transaction works')
})

t.test('configured bounds: max_tx_commands and max_tx_bytes', async (t) => {
  const conn = await RespConnection.connect(small.port, { t })
  const over = await conn.pipeline([['MULTI'], ['SET', '{s}a', '1'], ['SET', '{s}b', '2'], ['SET', '{s}c', '3'], ['SET', '{s}d', '4'], ['EXEC']])
  t.same(over.slice(0, 4).map(plain), [{ ok: 'OK' }, { ok: 'QUEUED' }, { ok: 'QUEUED' }, { ok: 'QUEUED' }])
  t.match(plain(over[4]!), { err: /at most 3 commands \(max_tx_commands\)/ })
  t.match(plain(over[5]!), { err: /^EXECABORT/ })
  const big = await conn.pipeline([['MULTI'], ['SET', '{s}big', 'x'.repeat(1024)], ['EXEC']])
  t.match(plain(big[1]!), { err: /at most 1024 bytes of commands \(max_tx_bytes\)/ })
  t.match(plain(big[2]!), { err: /^EXECABORT/ })
  for (const b of small.backends) t.equal(plain(await b.call('DBSIZE')), 0, 'nothing reached a backend')
  t.same((await conn.pipeline([['MULTI'], ['SET', '{s}a', '1'], ['INCR', '{s}a'], ['EXEC']])).map(plain).at(-1), [{ ok: 'OK' }, 2], 'within the bounds it runs')
})
