// Commands dynoproxy answers itself or refuses, Redis error wording, malformed RESP, AUTH, and redis-cli as a client.
// It must never accept a hang as a refusal: every refused or local command must be answered within a short deadline.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import type { Test } from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import type { CommandArg } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RespReply } from '../helpers/resp-reply-reader.ts'

const execFileAsync = promisify(execFile)
const cluster = await startProxiedRedis(t, { backends: 3 })
const direct = await startRedis(t)

async function fresh(t: Test, port = cluster.port): Promise<RespConnection> {
  return RespConnection.connect(port, { t })
}

t.test('answered by the proxy', async (t) => {
  const conn = await fresh(t)
  const replies = await conn.pipeline(
    [
      ['PING'],
      ['PING', 'hello there'],
      ['ping'],
      ['ECHO', Buffer.from([0, 13, 10, 255])],
      ['SELECT', '0'],
      ['CLIENT', 'SETNAME', 'itest-client'],
      ['COMMAND'],
      ['INFO'],
      ['HELLO', '2'],
    ],
    3000,
  )
  t.same(plain(replies[0]!), { ok: 'PONG' })
  t.same(plain(replies[1]!), 'hello there')
  t.same(plain(replies[2]!), { ok: 'PONG' })
  t.same(plain(replies[3]!), '\x00\r\n\xff')
  t.same(plain(replies[4]!), { ok: 'OK' })
  t.same(plain(replies[5]!), { ok: 'OK' })
  t.equal(replies[6]!.kind, 'array', 'COMMAND -> array')
  t.equal(replies[7]!.kind, 'bulk', 'INFO -> bulk string')
  const hello = replies[8]!
  t.equal(hello.kind, 'array', 'HELLO 2 -> RESP2 flat map')
  if (hello.kind === 'array' && hello.value !== null) {
    const flat = hello.value.map(plain)
    const proto = flat.indexOf('proto')
    t.ok(proto >= 0 && flat[proto + 1] === 2, 'HELLO 2 reports proto 2', { flat })
  }
  const selectOne = await conn.call(['SELECT', '1'], 2000)
  t.equal(selectOne.kind, 'error', 'SELECT 1 -> error (only db 0 exists behind the proxy)')
  const hello3 = await conn.call(['HELLO', '3'], 2000)
  t.ok(
    (hello3.kind === 'error' && /^NOPROTO/.test(hello3.value)) || hello3.kind === 'map',
    'HELLO 3 is either served or refused with NOPROTO (what clients fall back on)',
    { got: plain(hello3) },
  )
  const auth = await conn.call(['AUTH', 'nopass'], 2000)
  t.equal(auth.kind, 'error', 'AUTH without requirepass -> error')
  t.same(plain(await conn.call(['PING'])), { ok: 'PONG' }, 'still serving after all that')
})

t.test('QUIT answers +OK and closes', async (t) => {
  const conn = await fresh(t)
  t.same(plain(await conn.call(['QUIT'], 2000)), { ok: 'OK' })
  await conn.waitClosed(2000)
  t.pass('closed by the proxy')
})

t.test('refused at once, connection stays usable', async (t) => {
  const conn = await fresh(t)
  const refused: CommandArg[][] = [
    ['KEYS', '*'],
    ['FLUSHALL'],
    ['FLUSHDB'],
    ['WAIT', '1', '0'],
    ['MONITOR'],
  ]
  for (const cmd of refused) {
    const started = Date.now()
    const reply = await conn.call(cmd, 1500)
    t.ok(reply.kind === 'error' && /^ERR /.test(reply.value), `${String(cmd[0])} -> -ERR`, { got: plain(reply) })
    t.ok(Date.now() - started < 1000, `${String(cmd[0])} refused at once`)
  }
  t.same(plain(await conn.call(['PING'])), { ok: 'PONG' })
  t.same(plain(await conn.call(['SET', 'after-refusals', '1'])), { ok: 'OK' })
})

t.test('arity and unknown commands get Redis wording', async (t) => {
  const cases: CommandArg[][] = [
    ['GET'],
    ['get'],
    ['SET', 'k'],
    ['MGET'],
    ['HSET', 'h', 'f'],
    ['NOSUCHCOMMAND', 'a', 'b'],
    ['nosuch'],
    ['EXPIRE', 'k'],
  ]
  const viaProxy = await (await fresh(t)).pipeline(cases, 3000)
  const viaRedis = await (await fresh(t, direct.port)).pipeline(cases, 3000)
  t.same(plain(viaProxy[0]!), { err: "ERR wrong number of arguments for 'get' command" })
  for (let i = 0; i < cases.length; i++) t.same(plain(viaProxy[i]!), plain(viaRedis[i]!), cases[i]!.join(' '))
})

t.test('inline (telnet-style) commands behave as on Redis', async (t) => {
  const text = 'PING\r\nSET inline:k "a b"\r\nGET inline:k\r\nMGET inline:k inline:none\r\nECHO \'it\\\'s\'\r\nEXISTS inline:k\n\r\nGET\r\n'
  const run = async (port: number): Promise<unknown[]> => {
    const conn = await fresh(t, port)
    conn.write(text)
    return (await conn.read(7, 3000)).map(plain)
  }
  const [viaProxy, viaRedis] = await Promise.all([run(cluster.port), run(direct.port)])
  t.same(viaRedis.slice(0, 3), [{ ok: 'PONG' }, { ok: 'OK' }, 'a b'], 'reference sanity')
  t.same(viaProxy, viaRedis)
  const unbalanced = async (port: number): Promise<unknown> => {
    const conn = await fresh(t, port)
    conn.write('ECHO "oops\r\n')
    const [reply] = await conn.read(1, 3000)
    await conn.waitClosed(3000)
    return plain(reply!)
  }
  t.same(await unbalanced(cluster.port), await unbalanced(direct.port), 'unbalanced quotes: same protocol error, then closed')
})

t.test('malformed RESP: protocol error, that connection closed, others unaffected', async (t) => {
  const bystander = await fresh(t)
  await bystander.call(['SET', 'bystander', 'here'])
  const garbage: [string, Buffer][] = [
    ['bad multibulk length', Buffer.from('*abc\r\n')],
    ['bulk expected, integer given', Buffer.from('*2\r\n$3\r\nGET\r\n:5\r\n')],
    ['negative bulk length', Buffer.from('*1\r\n$-5\r\n')],
    ['huge bulk length', Buffer.from('*1\r\n$99999999999\r\n')],
    ['huge multibulk length', Buffer.from('*99999999999\r\n')],
    ['after a valid command', Buffer.from('*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n')],
  ]
  for (const [name, bytes] of garbage) {
    const conn = await fresh(t)
    conn.write(bytes)
    const expectPong = name === 'after a valid command'
    let replies: RespReply[] = []
    try {
      replies = await conn.read(expectPong ? 2 : 1, 3000)
    } catch (err) {
      t.fail(`${name}: no protocol error reply (${(err as Error).message})`)
      continue
    }
    if (expectPong) t.same(plain(replies.shift()!), { ok: 'PONG' }, `${name}: the valid command before is answered`)
    const reply = replies[0]!
    t.ok(reply.kind === 'error' && reply.value.startsWith('ERR Protocol error'), `${name}: -ERR Protocol error`, { got: plain(reply) })
    await conn.waitClosed(3000).then(
      () => t.pass(`${name}: connection closed`),
      () => t.fail(`${name}: connection left open`),
    )
  }
  t.same(plain(await bystander.call(['GET', 'bystander'])), 'here', 'other client unaffected')
})

t.test('redis-cli as a client', async (t) => {
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await execFileAsync('redis-cli', ['-p', String(cluster.port), ...args], { timeout: 5000 })
    return stdout.trim()
  }
  t.equal(await cli('SET', 'cli:k', 'v a l'), 'OK')
  t.equal(await cli('GET', 'cli:k'), 'v a l')
  t.equal(await cli('PING'), 'PONG')
  t.equal(await cli('MSET', 'cli:1', 'one', 'cli:2', 'two'), 'OK')
  t.equal(await cli('MGET', 'cli:1', 'cli:nope', 'cli:2'), 'one\n\ntwo')
  t.equal(await cli('INCRBY', 'cli:n', '5'), '5')
  t.equal(await cli('DEL', 'cli:1', 'cli:2', 'cli:k'), '3')
  const { stdout } = await execFileAsync('sh', ['-c', `printf 'SET cli:p 1\\nINCR cli:p\\nGET cli:p\\n' | redis-cli -p ${cluster.port}`], { timeout: 5000 })
  t.equal(stdout.trim(), 'OK\n2\n2', 'commands read from stdin')
})

t.test('requirepass: clients must AUTH; the proxy AUTHs to its backends', async (t) => {
  const secure = await startProxiedRedis(t, {
    backends: 2,
    redisArgs: ['--requirepass', 's3cret'],
    redisPassword: 's3cret',
    pool: { requirepass: 's3cret' },
  })
  const conn = await RespConnection.connect(secure.port, { t })
  const noAuth = await conn.call(['GET', 'k'], 3000)
  t.ok(noAuth.kind === 'error' && /^NOAUTH/.test(noAuth.value), 'command before AUTH -> -NOAUTH', { got: plain(noAuth) })
  const wrong = await conn.call(['AUTH', 'wrong'], 3000)
  t.equal(wrong.kind, 'error', 'wrong password -> error')
  t.same(plain(await conn.call(['AUTH', 's3cret'], 3000)), { ok: 'OK' })
  const keys = Array.from({ length: 10 }, (_, i) => `auth:${i}`)
  const sets = await conn.pipeline(keys.map((k) => ['SET', k, k]), 5000)
  t.ok(sets.every((r) => r.kind === 'simple'), 'writes reach password-protected backends', { got: sets.map(plain) })
  t.same(plain(await conn.call(['MGET', ...keys], 5000)), keys)
  const { stdout } = await execFileAsync('redis-cli', ['-p', String(secure.port), '--no-auth-warning', '-a', 's3cret', 'GET', 'auth:3'], { timeout: 5000 })
  t.equal(stdout.trim(), 'auth:3', 'redis-cli -a works')
})
