// Through dynoproxy: 10,000-command pipelines (whole and dribbled in tiny writes), 1 MiB and 64 MiB values, binary keys and values.
// It must never hold more than a few copies of the 64 MiB value at once: the machine is shared.

import t from 'tap'
import type { Test } from 'tap'
import { ownersOf } from '../helpers/backend-probe.ts'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { RespConnection, encodeCommands } from '../helpers/resp-connection.ts'
import type { CommandArg } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RespReply } from '../helpers/resp-reply-reader.ts'

const [direct, one, three] = await Promise.all([
  startRedis(t),
  startProxiedRedis(t, { backends: 1 }),
  startProxiedRedis(t, { backends: 3 }),
])
const targets = [
  { name: 'proxy, 1 backend', port: one.port },
  { name: 'proxy, 3 backends', port: three.port },
]

/** 10,000 mixed commands over 500 keys; every reply is deterministic. */
function mixedPipeline(prefix: string): CommandArg[][] {
  const cmds: CommandArg[][] = []
  for (let i = 0; cmds.length < 10_000; i++) {
    const k = `${prefix}:${i % 500}`
    switch (i % 8) {
      case 0: cmds.push(['SET', k, `v${i}`]); break
      case 1: cmds.push(['GET', k]); break
      case 2: cmds.push(['INCR', `${k}:n`]); break
      case 3: cmds.push(['MGET', k, `${k}:n`, `${prefix}:${(i * 7) % 500}`, `${prefix}:none`]); break
      case 4: cmds.push(['RPUSH', `${k}:l`, String(i)]); break
      case 5: cmds.push(['LLEN', `${k}:l`]); break
      case 6: cmds.push(['DEL', `${prefix}:${(i * 3) % 500}`, `${k}:none`]); break
      default: cmds.push(['EXISTS', k, `${k}:n`, `${k}:l`])
    }
  }
  return cmds
}

function firstMismatch(got: readonly RespReply[], want: readonly RespReply[]): number {
  const n = Math.max(got.length, want.length)
  for (let i = 0; i < n; i++) {
    if (got[i] === undefined || want[i] === undefined) return i
    if (JSON.stringify(plain(got[i]!)) !== JSON.stringify(plain(want[i]!))) return i
  }
  return -1
}

async function checkPipeline(t: Test, write: (conn: RespConnection, bytes: Buffer) => void, prefix: string): Promise<void> {
  const cmds = mixedPipeline(prefix)
  const bytes = encodeCommands(cmds)
  const run = async (port: number): Promise<RespReply[]> => {
    const conn = await RespConnection.connect(port, { t })
    write(conn, bytes)
    const replies = await conn.read(cmds.length, 30_000)
    conn.destroy()
    return replies
  }
  const [want, ...gots] = await Promise.all([run(direct.port), ...targets.map((x) => run(x.port))])
  targets.forEach((target, ti) => {
    const got = gots[ti]!
    const at = firstMismatch(got, want!)
    t.equal(at, -1, `${target.name}: 10,000 replies equal to direct Redis`, at < 0 ? {} : {
      command: cmds[at]!.map(String).join(' '),
      got: got[at] && plain(got[at]!),
      want: want![at] && plain(want![at]!),
    })
  })
}

t.test('10,000-command pipeline in one write', async (t) => {
  await checkPipeline(t, (conn, bytes) => conn.write(bytes), 'p1')
})

t.test('10,000-command pipeline dribbled in 1..97-byte writes', async (t) => {
  await checkPipeline(
    t,
    (conn, bytes) => {
      let size = 1
      for (let at = 0; at < bytes.length; at += size, size = (size % 97) + 1) {
        conn.write(bytes.subarray(at, at + size))
      }
    },
    'p2',
  )
})

t.test('1 MiB values: SET then GET, bytes equal, on both proxies', async (t) => {
  const value = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < value.length; i++) value[i] = (i * 31 + (i >> 10)) & 0xff
  for (const target of targets) {
    const conn = await RespConnection.connect(target.port, { t })
    const replies = await conn.pipeline(
      [['SET', 'big:1m', value], ['GET', 'big:1m'], ['STRLEN', 'big:1m'], ['APPEND', 'big:1m', 'tail'], ['GETRANGE', 'big:1m', '-6', '-1']],
      20_000,
    )
    t.same(plain(replies[0]!), { ok: 'OK' }, `${target.name}: SET`)
    const got = replies[1]!
    t.ok(got.kind === 'bulk' && got.value !== null && got.value.equals(value), `${target.name}: GET returns the same 1 MiB`)
    t.same(replies.slice(2).map(plain), [1048576, 1048580, value.subarray(-2).toString('latin1') + 'tail'], `${target.name}: STRLEN/APPEND/GETRANGE`)
  }
})

t.test('64 MiB value: SET then GET through the 3-backend proxy, bytes equal', async (t) => {
  const size = 64 * 1024 * 1024
  let value: Buffer | undefined = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4096) value.writeUInt32LE(i, i)
  value[size - 1] = 0x0a
  value[size - 2] = 0x0d
  const conn = await RespConnection.connect(three.port, { t })
  t.same(plain(await conn.call(['SET', 'big:64m', value], 60_000)), { ok: 'OK' }, 'SET 64 MiB')
  const got = await conn.call(['GET', 'big:64m'], 60_000)
  t.ok(got.kind === 'bulk' && got.value !== null && got.value.length === size && got.value.equals(value), 'GET returns the same 64 MiB')
  value = undefined
  const [owner] = await ownersOf(three.backends, ['big:64m'])
  t.same(plain(await three.backends[owner!]!.call('STRLEN', 'big:64m')), size, 'the owning backend holds all 64 MiB')
  t.same(plain(await conn.call(['DEL', 'big:64m'], 20_000)), 1, 'and it can be deleted')
  t.same(plain(await conn.call(['PING'])), { ok: 'PONG' }, 'connection fine afterwards')
})

t.test('binary keys and values: all 256 byte values, CRLF inside', async (t) => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const key = Buffer.concat([Buffer.from('bin:'), all])
  const crlfKey = Buffer.from('bin:\r\n*1\r\n$4\r\nPING\r\n')
  const value = Buffer.concat([all, Buffer.from('\r\n$-1\r\n'), Buffer.from(all).reverse()])
  const cmds: CommandArg[][] = [
    ['SET', key, value],
    ['GET', key],
    ['SET', crlfKey, '\r\n'],
    ['GET', crlfKey],
    ['MGET', key, crlfKey, 'bin:none'],
    ['STRLEN', key],
    ['HSET', Buffer.concat([key, Buffer.from(':h')]), all, value],
    ['HGET', Buffer.concat([key, Buffer.from(':h')]), all],
    ['RPUSH', Buffer.concat([key, Buffer.from(':l')]), value, all],
    ['LRANGE', Buffer.concat([key, Buffer.from(':l')]), '0', '-1'],
    ['EXISTS', key, crlfKey],
  ]
  const want = await (await RespConnection.connect(direct.port, { t })).pipeline(cmds)
  t.equal(plain(want[1]!), value.toString('latin1'), 'reference sanity')
  for (const target of targets) {
    const got = await (await RespConnection.connect(target.port, { t })).pipeline(cmds)
    t.same(got.map(plain), want.map(plain), `${target.name}: binary replies equal to direct Redis`)
  }
  const [owner] = await ownersOf(three.backends, [key])
  const held = await three.backends[owner!]!.call('GET', key)
  t.ok(held.kind === 'bulk' && held.value !== null && held.value.equals(value), 'backend holds the exact bytes under the exact key')
})
