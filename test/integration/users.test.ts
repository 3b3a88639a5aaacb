// `users:` through a real proxy and redis-server: AUTH name password, categories and key patterns (-NOPERM in Redis 7's words),
// the default user by requirepass, HELLO AUTH, MULTI with a refused command, and a password changed by SIGHUP.
// It must never leave a process running: startProxiedRedis stops the proxy and redis in teardown; every wait has a deadline.

import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import t from 'tap'
import { stringify } from 'yaml'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const users = [`alice #${sha('wonder')} +@read ~app:*`, 'bob >builder +@write +@read allkeys']
const node = await startProxiedRedis(t, {
  backends: 1,
  redisArgs: ['--requirepass', 'adm'],
  redisPassword: 'adm',
  pool: { requirepass: 'adm', users },
})
const conn = (): Promise<RespConnection> => RespConnection.connect(node.port, { t })

t.test('a user may run its categories on its keys; anything else is -NOPERM', async (t) => {
  const a = await conn()
  t.match(plain(await a.call(['GET', 'app:1'])), { err: /^NOAUTH/ })
  t.match(plain(await a.call(['AUTH', 'alice', 'wrong'])), { err: /^WRONGPASS/ })
  t.match(plain(await a.call(['AUTH', 'mallory', 'wonder'])), { err: /^WRONGPASS/ }, 'an unknown user is a wrong pair')
  t.same(plain(await a.call(['AUTH', 'alice', 'wonder'])), { ok: 'OK' })
  t.equal(plain(await a.call(['GET', 'app:1'])), null)
  t.same(plain(await a.call(['SET', 'app:1', 'x'])), { err: "NOPERM User alice has no permissions to run the 'set' command" })
  t.same(plain(await a.call(['GET', 'secret:1'])), { err: 'NOPERM No permissions to access a key' })
  t.same(plain(await a.call(['MGET', 'app:1', 'secret:1'])), { err: 'NOPERM No permissions to access a key' }, 'every key is checked')
  t.same(plain(await a.call(['PING'])), { ok: 'PONG' }, 'connection commands for everyone')
  t.same(plain(await a.call(['MULTI'])), { ok: 'OK' })
  t.same(plain(await a.call(['GET', 'app:1'])), { ok: 'QUEUED' })
  t.match(plain(await a.call(['DEL', 'app:1'])), { err: /^NOPERM/ })
  t.match(plain(await a.call(['EXEC'])), { err: /^EXECABORT/ }, 'a refused command aborts the transaction')

  const b = await conn()
  t.same(plain(await b.call(['AUTH', 'bob', 'builder'])), { ok: 'OK' })
  t.same(plain(await b.call(['SET', 'app:1', 'v'])), { ok: 'OK' })
  t.same(plain(await b.call(['SET', 'secret:1', 's'])), { ok: 'OK' })
  t.ok(Number(plain(await b.call(['LPUSH', 'l', 'x']))) >= 1, 'LPUSH is in @write')
  t.match(plain(await b.call(['EVAL', 'return 1', '0'])), { err: /^NOPERM User bob has no permissions to run the 'eval' command/ }, 'EVAL is not: @scripting')
  t.equal(plain(await a.call(['GET', 'app:1'])), 'v', 'alice reads what bob wrote')
})

t.test('the default user (requirepass) may do everything; HELLO AUTH takes a user', async (t) => {
  const d = await conn()
  t.same(plain(await d.call(['AUTH', 'adm'])), { ok: 'OK' })
  t.equal(plain(await d.call(['EVAL', 'return 7', '0'])), 7)
  const d2 = await conn()
  t.same(plain(await d2.call(['AUTH', 'default', 'adm'])), { ok: 'OK' })
  t.equal(plain(await d2.call(['GET', 'secret:1'])), 's')
  const h = await conn()
  t.type(plain(await h.call(['HELLO', '2', 'AUTH', 'alice', 'wonder'])), Array)
  t.same(plain(await h.call(['GET', 'secret:1'])), { err: 'NOPERM No permissions to access a key' })
  const r = await conn()
  t.same(plain(await r.call(['AUTH', 'bob', 'builder'])), { ok: 'OK' })
  t.same(plain(await r.call(['RESET'])), { ok: 'RESET' })
  t.match(plain(await r.call(['GET', 'app:1'])), { err: /^NOAUTH/ }, 'RESET forgets the user')
})

t.test('SIGHUP: a user\'s new password opens new connections, the old one no longer does', async (t) => {
  const next = [`alice #${sha('rabbit')} +@read ~app:*`, users[1]]
  writeFileSync(node.proxy.configPath, stringify({ test_pool: { ...node.pool, users: next } }))
  node.proxy.kill('SIGHUP')
  await waitFor(async () => {
    const c = await RespConnection.connect(node.port)
    try {
      return JSON.stringify(plain(await c.call(['AUTH', 'alice', 'rabbit']))) === '{"ok":"OK"}'
    } finally {
      c.destroy()
    }
  }, 10_000, 'the new password to apply', 50)
  const old = await conn()
  t.match(plain(await old.call(['AUTH', 'alice', 'wonder'])), { err: /^WRONGPASS/ })
})
