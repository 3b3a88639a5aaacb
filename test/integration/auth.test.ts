// AUTH against a real proxy and real redis-servers: a datastore that refuses the proxy's AUTH is named as such (log at start, clients' error),
// SIGHUP gives the new requirepass to new backend connections too, and failed AUTH is counted and rate-limited per connection.
// It must never leave a proxy or redis-server running: every process is stopped in teardown; every wait has a deadline.

import { writeFileSync } from 'node:fs'
import t from 'tap'
import { stringify } from 'yaml'
import { startProxiedRedis, type ProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

async function metricSum(node: ProxiedRedis, name: string): Promise<number> {
  const text = await (await fetch(`http://${node.pool['stats_listen'] as string}/metrics`)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^dynoproxy_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

function refusalLines(node: ProxiedRedis): Record<string, unknown>[] {
  return node.proxy.output().split('\n').filter((l) => l.includes("refuses the proxy's AUTH")).map((l) => JSON.parse(l) as Record<string, unknown>)
}

t.test('requirepass in front of a datastore without a password: named in the log at start and in the client\'s error', async (t) => {
  const node = await startProxiedRedis(t, { backends: 1, workers: 2, pool: { requirepass: 'pw1' } })
  const name = `127.0.0.1:${node.backends[0]!.port}`
  const logged = await waitFor(() => {
    const l = refusalLines(node)
    return l.length > 0 ? l[0]! : null
  }, 10_000, 'the refusal in the log before any client')
  t.equal(logged['where'], name)
  t.match(logged['message'], new RegExp(`^the datastore ${name.replace(/\./g, '\\.')} has no password set but the pool's requirepass makes the proxy send AUTH`))
  const c = await RespConnection.connect(node.port, { t })
  t.same(plain(await c.call(['AUTH', 'pw1'])), { ok: 'OK' }, 'the client\'s AUTH is the proxy\'s')
  const r = plain(await c.call(['GET', 'k']))
  t.match(r, { err: new RegExp(`^ERR Storage: the datastore ${name.replace(/\./g, '\\.')} has no password set`) }, 'the client is told the datastore refused, not a peer')
  t.notMatch(JSON.stringify(r), /Peer Node is not connected/)
})

t.test('a datastore with another password: its refusal says so', async (t) => {
  const node = await startProxiedRedis(t, { backends: 1, redisArgs: ['--requirepass', 'theirs'], redisPassword: 'theirs', pool: { requirepass: 'ours' } })
  const l = await waitFor(() => refusalLines(node)[0] ?? null, 10_000, 'the refusal in the log')
  t.match(l['message'], /refused the proxy's AUTH \(WRONGPASS[^)]*\): its password is not the pool's requirepass/)
  const c = await RespConnection.connect(node.port, { t })
  await c.call(['AUTH', 'ours'])
  t.match(plain(await c.call(['GET', 'k'])), { err: /^ERR Storage: the datastore .* its password is not the pool's requirepass/ })
})

t.test('SIGHUP: the new requirepass reaches the backend AUTH of new connections', async (t) => {
  const node = await startProxiedRedis(t, { backends: 1, workers: 1, redisArgs: ['--requirepass', 'old'], redisPassword: 'old', pool: { requirepass: 'old' } })
  const c = await RespConnection.connect(node.port, { t })
  t.same(plain(await c.call(['AUTH', 'old'])), { ok: 'OK' })
  t.same(plain(await c.call(['SET', 'k', 'v1'])), { ok: 'OK' })
  // The datastore's password changes, then the proxy's file; SIGHUP.
  t.same(plain(await node.backends[0]!.call('CONFIG', 'SET', 'requirepass', 'new')), { ok: 'OK' })
  writeFileSync(node.proxy.configPath, stringify({ test_pool: { ...node.pool, requirepass: 'new' } }))
  node.proxy.kill('SIGHUP')
  await waitFor(async () => {
    const n = await RespConnection.connect(node.port)
    try {
      return JSON.stringify(plain(await n.call(['AUTH', 'new']))) === '{"ok":"OK"}'
    } finally {
      n.destroy()
    }
  }, 10_000, 'the new password to apply to clients', 50)
  // The proxy's open backend connections go (as on a datastore restart): the next ones must AUTH with the new password.
  const direct = await RespConnection.connect(node.backends[0]!.port, { t })
  t.same(plain(await direct.call(['AUTH', 'new'])), { ok: 'OK' })
  t.ok(Number(plain(await direct.call(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']))) >= 1, "the proxy's backend connections are gone")
  const fresh = await RespConnection.connect(node.port, { t })
  t.same(plain(await fresh.call(['AUTH', 'new'])), { ok: 'OK' })
  const got = await waitFor(async () => {
    const r = plain(await fresh.call(['GET', 'k']))
    return r === 'v1' ? r : null
  }, 10_000, 'GET through a backend connection authenticated with the new password', 100)
  t.equal(got, 'v1')
  t.equal(refusalLines(node).length, 0, 'no AUTH refused by the datastore')
  const stale = await RespConnection.connect(node.port, { t })
  t.match(plain(await stale.call(['AUTH', 'old'])), { err: /WRONGPASS/ }, 'the old password no longer opens the proxy')
})

t.test('failed AUTH: counted; past 5 at once the connection is closed; others unaffected', async (t) => {
  const node = await startProxiedRedis(t, { backends: 1, redisArgs: ['--requirepass', 'pw'], redisPassword: 'pw', pool: { requirepass: 'pw' } })
  const guesser = await RespConnection.connect(node.port, { t })
  for (let i = 0; i < 5; i++) t.match(plain(await guesser.call(['AUTH', `guess${i}`])), { err: /^WRONGPASS/ }, `guess ${i}`)
  t.match(plain(await guesser.call(['AUTH', 'guess5'])), { err: /^ERR too many failed AUTH attempts on this connection; closing it$/ })
  await guesser.waitClosed(5000)
  t.pass('the guessing connection is closed')
  t.equal(await metricSum(node, 'auth_failures_total'), 6)
  const ok = await RespConnection.connect(node.port, { t })
  t.same(plain(await ok.call(['AUTH', 'pw'])), { ok: 'OK' })
  t.same(plain(await ok.call(['SET', 'a', '1'])), { ok: 'OK' })
  // The budget comes back at one a second: a slow guesser is not closed.
  const slow = await RespConnection.connect(node.port, { t })
  for (let i = 0; i < 5; i++) await slow.call(['AUTH', `x${i}`])
  // The limit is in time: only waiting a second shows the budget coming back.
  await new Promise((r) => setTimeout(r, 1100))
  t.match(plain(await slow.call(['AUTH', 'x5'])), { err: /^WRONGPASS/ }, 'one more after a second')
  t.same(plain(await slow.call(['AUTH', 'pw'])), { ok: 'OK' }, 'and the right one then works')
})
