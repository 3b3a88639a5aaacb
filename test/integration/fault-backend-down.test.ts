// Fault: a backend redis-server killed mid-run, then restarted on the same port, with and without auto_eject_hosts.
// It must never let a request hang unnoticed: every request has a deadline of the proxy timeout plus slack.

import t from 'tap'
import { ownersOf } from '../helpers/backend-probe.ts'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import type { ProxiedRedis } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RespReply } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TIMEOUT_MS = 1000
const SLACK_MS = 2000

async function seed(cluster: ProxiedRedis, prefix: string): Promise<{ keys: string[]; owners: number[] }> {
  const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:${i}`)
  const conn = await RespConnection.connect(cluster.port)
  const replies = await conn.pipeline(keys.map((k) => ['SET', k, `v-${k}`]))
  conn.destroy()
  if (!replies.every((r) => r.kind === 'simple')) throw new Error('seeding failed')
  return { keys, owners: await ownersOf(cluster.backends, keys) }
}

type LoadStats = { sent: number; errors: number; hangs: string[]; closed: number; lastOk: number }

/** Sequential GETs on `conns` connections until stopped; each request bounded by TIMEOUT_MS + SLACK_MS. */
function runLoad(port: number, keys: readonly string[], conns: number): { stats: LoadStats; stop: () => Promise<void> } {
  const stats: LoadStats = { sent: 0, errors: 0, hangs: [], closed: 0, lastOk: 0 }
  let running = true
  const loops = Array.from({ length: conns }, async (_, c) => {
    const conn = await RespConnection.connect(port)
    try {
      for (let i = c; running; i += conns) {
        const key = keys[i % keys.length]!
        stats.sent++
        let reply: RespReply
        try {
          reply = await conn.call(['GET', key], TIMEOUT_MS + SLACK_MS)
        } catch (err) {
          if (conn.isOpen) stats.hangs.push(`GET ${key}: ${(err as Error).message}`)
          else stats.closed++
          return
        }
        if (reply.kind === 'error') stats.errors++
        else stats.lastOk = Date.now()
      }
    } finally {
      conn.destroy()
    }
  })
  return {
    stats,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

t.test('auto_eject_hosts false: dead backend -> errors for its keys only; back after restart', async (t) => {
  const cluster = await startProxiedRedis(t, { backends: 3, pool: { timeout: TIMEOUT_MS, auto_eject_hosts: false } })
  const { keys, owners } = await seed(cluster, 'down')
  const victim = owners[0]!
  const victimPort = cluster.backends[victim]!.port
  const load = runLoad(cluster.port, keys, 4)
  await waitFor(() => load.stats.sent >= 200, 10_000, 'load to get going')

  cluster.backends[victim]!.kill('SIGKILL')
  await cluster.backends[victim]!.exited
  const erroredBefore = load.stats.errors
  await waitFor(() => load.stats.errors >= erroredBefore + 5, 10_000, 'errors for the dead backend\'s keys')

  const conn = await RespConnection.connect(cluster.port, { t })
  for (let round = 0; round < 3; round++) {
    const started = Date.now()
    const replies = await conn.pipeline(keys.map((k) => ['GET', k]), 3 * (TIMEOUT_MS + SLACK_MS))
    const bad = keys.filter((k, i) => {
      const r = replies[i]!
      return owners[i] === victim ? r.kind !== 'error' : plain(r) !== `v-${k}`
    })
    t.same(bad, [], `round ${round}: errors exactly for the dead backend's keys, values for the rest`)
    t.ok(Date.now() - started < TIMEOUT_MS + SLACK_MS, `round ${round}: answered within timeout + slack (${Date.now() - started} ms)`)
  }

  await startRedis(t, { port: victimPort })
  const victimKeys = keys.filter((_, i) => owners[i] === victim)
  await waitFor(
    async () => (await conn.call(['SET', victimKeys[0]!, 'again'], TIMEOUT_MS + SLACK_MS)).kind === 'simple',
    15_000,
    'restarted backend to serve through the proxy',
    50,
  )
  const okAt = Date.now()
  await waitFor(() => load.stats.lastOk > okAt, 5000, 'load to succeed again')
  await load.stop()
  t.same(load.stats.hangs, [], 'no request went unanswered')
  t.equal(load.stats.closed, 0, 'no client connection closed by the proxy')

  const after = await conn.pipeline(victimKeys.map((k) => ['SET', k, `new-${k}`]).concat(keys.map((k) => ['GET', k])))
  const gets = after.slice(victimKeys.length).map(plain)
  t.same(gets, keys.map((k, i) => (owners[i] === victim ? `new-${k}` : `v-${k}`)), 'all keys served after the restart')
  // The restarted server listens on the same port, so probing the old handles reaches it.
  t.ok((await ownersOf(cluster.backends, victimKeys)).every((o) => o === victim), 'the restarted backend owns its keys again')
})

t.test('auto_eject_hosts true: dead backend is ejected, then taken back after restart', async (t) => {
  const cluster = await startProxiedRedis(t, {
    backends: 3,
    pool: { timeout: TIMEOUT_MS, auto_eject_hosts: true, server_failure_limit: 2, server_retry_timeout: 500 },
  })
  const { keys, owners } = await seed(cluster, 'eject')
  const victim = owners[0]!
  const victimPort = cluster.backends[victim]!.port
  const victimKey = keys[0]!
  const load = runLoad(cluster.port, keys, 3)
  await waitFor(() => load.stats.sent >= 100, 10_000, 'load to get going')

  cluster.backends[victim]!.kill('SIGKILL')
  await cluster.backends[victim]!.exited
  const conn = await RespConnection.connect(cluster.port, { t })
  await waitFor(
    async () => (await conn.call(['SET', victimKey, 'rerouted'], TIMEOUT_MS + SLACK_MS)).kind === 'simple',
    15_000,
    'the dead backend to be ejected and its keys rerouted',
    50,
  )
  t.same(plain(await conn.call(['GET', victimKey])), 'rerouted', 'rerouted key readable while the backend is out')

  const restarted = await startRedis(t, { port: victimPort })
  await restarted.call('SET', victimKey, 'home-again')
  await waitFor(
    async () => plain(await conn.call(['GET', victimKey], TIMEOUT_MS + SLACK_MS)) === 'home-again',
    15_000,
    'the restarted backend to be taken back (key routed to it again)',
    50,
  )
  await load.stop()
  t.same(load.stats.hangs, [], 'no request went unanswered')
  t.equal(load.stats.closed, 0, 'no client connection closed by the proxy')
  const others = keys.filter((_, i) => owners[i] !== victim)
  t.same(plain(await conn.call(['MGET', ...others])), others.map((k) => `v-${k}`), 'keys of live backends never moved')
})
