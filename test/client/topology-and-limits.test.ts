// DynoClient with scriptable seeds (an HTTP server answering /cluster_describe as a test says) over real redis-servers as nodes:
// bad seeds and garbage JSON, a rack with no node, keys no ring places, refresh after the topology changes, quotas, retry budget.
// It must never hang: every failure is a typed DynoError within its timeout; every server started is closed in teardown.

import http from 'node:http'
import net from 'node:net'
import t, { type Test } from 'tap'
import { DynoClient, TokenBucket } from 'dynoproxy/client'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'
import { freePort } from '../helpers/free-port.ts'
import { startDynoproxy, defaultPool } from '../helpers/dynoproxy.ts'
import { keyHash, ownerIndex } from '../helpers/cluster-ring.ts'

/** A seed whose /cluster_describe body the test sets. */
async function fakeSeed(t: Test): Promise<{ url: string; body: string; hits: number }> {
  const state = { url: '', body: '{}', hits: 0 }
  const server = http.createServer((req, res) => {
    state.hits++
    res.writeHead(req.url === '/cluster_describe' ? 200 : 404, { 'content-type': 'application/json' })
    res.end(state.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  return state
}

type N = { port: number; rack: string; token?: string; state?: string }
function describe(nodes: N[], dc = 'dc1'): string {
  const racks = [...new Set(nodes.map((n) => n.rack))].map((name) => ({
    name,
    servers: nodes.filter((n) => n.rack === name).map((n, i) => ({
      name: `127.0.0.1:${9000 + n.port}`, host: '127.0.0.1', port: 9000 + i + n.port, token: Number(n.token ?? 0), state: 'normal', local: false,
      dc, rack: name, tokens: n.token === undefined ? [] : [n.token], client_port: n.port, node_state: n.state ?? 'normal',
    })),
  }))
  return JSON.stringify({ dcs: [{ name: dc, racks }], hash: 'murmur', hash_tag: '{}', data_store: 'redis' })
}

const code = (c: string) => ({ name: 'DynoError', code: c })

t.test('bad seeds: down, garbage JSON, wrong shape, no seeds, a memcached pool: typed errors, no hang', async (t) => {
  const closed = await freePort()
  const t0 = performance.now()
  await t.rejects(DynoClient.connect({ seeds: [`http://127.0.0.1:${closed}`], discoveryTimeoutMs: 500 }), code('SEED_UNREACHABLE'))
  const seed = await fakeSeed(t)
  seed.body = 'this is not json'
  await t.rejects(DynoClient.connect({ seeds: [seed.url] }), code('BAD_TOPOLOGY'))
  seed.body = '{"dcs":[{"name":"dc1","racks":[{"name":"r","servers":[{"host":"127.0.0.1"}]}]}]}'
  await t.rejects(DynoClient.connect({ seeds: [seed.url] }), code('BAD_TOPOLOGY'), 'a server without a port')
  seed.body = '{"dcs":[]}'
  await t.rejects(DynoClient.connect({ seeds: [seed.url] }), code('BAD_TOPOLOGY'), 'no node')
  seed.body = describe([{ port: 1, rack: 'r', token: '12x' }])
  await t.rejects(DynoClient.connect({ seeds: [seed.url] }), code('BAD_TOPOLOGY'), 'a token that is not a number')
  seed.body = describe([{ port: 1, rack: 'r' }]).replace('"redis"', '"memcache"')
  await t.rejects(DynoClient.connect({ seeds: [seed.url] }), code('BAD_TOPOLOGY'), 'memcached pool')
  await t.rejects(DynoClient.connect({ seeds: [] }), code('BAD_ARGUMENTS'))
  await t.rejects(DynoClient.connect({ seeds: ['not a url'] }), code('BAD_ARGUMENTS'))
  // A seed that accepts and never answers: the discovery timeout ends it.
  const silent = net.createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => void silent.close())
  await t.rejects(DynoClient.connect({ seeds: [`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`], discoveryTimeoutMs: 300 }), code('SEED_UNREACHABLE'))
  t.ok(performance.now() - t0 < 5000, 'all within their timeouts')
  // One good seed among bad ones is enough.
  const redis = await startRedis(t)
  seed.body = describe([{ port: redis.port, rack: 'r' }])
  const c = await DynoClient.connect({ seeds: [`http://127.0.0.1:${closed}`, seed.url], discoveryTimeoutMs: 500 })
  t.equal(await c.set('k', 'v'), 'OK')
  await c.close()
})

t.test('no node in the chosen rack; a key no ring can place', async (t) => {
  const seed = await fakeSeed(t)
  seed.body = describe([{ port: 1, rack: 'r1' }])
  await t.rejects(DynoClient.connect({ seeds: [seed.url], dc: 'dc1', rack: 'r9' }), code('NO_NODE_IN_RACK'))
  await t.rejects(DynoClient.connect({ seeds: [seed.url], dc: 'dc9' }), code('NO_NODE_IN_RACK'))
  // Two nodes and no token: the ring cannot place anything.
  seed.body = describe([{ port: 1, rack: 'r1' }, { port: 2, rack: 'r1' }])
  const c = await DynoClient.connect({ seeds: [seed.url] })
  t.teardown(() => c.close())
  await t.rejects(c.get('k'), code('NO_OWNER'))
  await t.rejects(c.mget('a', 'b'), code('NO_OWNER'))
})

t.test('refresh: a node added to the rack takes its range; a removed one gives it back', async (t) => {
  const redises = await Promise.all([startRedis(t), startRedis(t)])
  const seed = await fakeSeed(t)
  const two = [{ port: redises[0]!.port, rack: 'r1', token: '1000' }, { port: redises[1]!.port, rack: 'r1', token: '2147483648' }]
  seed.body = describe([two[0]!])
  const c = await DynoClient.connect({ seeds: [seed.url], refreshIntervalMs: 100 })
  t.teardown(() => c.close())
  const keys = Array.from({ length: 40 }, (_, i) => `rf:${i}`)
  const owner = (k: string) => ownerIndex([1000, 2147483648], keyHash(k))
  for (const k of keys) await c.set(k, 'one')
  t.same(await redises[1]!.call('DBSIZE'), { kind: 'integer', value: 0n }, 'everything on the only node')
  seed.body = describe(two)
  const hitsBefore = seed.hits
  await new Promise<void>((resolve) => { const i = setInterval(() => { if (c.nodes.length === 2) { clearInterval(i); resolve() } }, 20) })
  t.ok(seed.hits > hitsBefore, 'learned by the periodic refresh')
  for (const k of keys) await c.set(k, 'two')
  const onSecond = keys.filter((k) => owner(k) === 1)
  t.ok(onSecond.length > 5 && onSecond.length < 35, `${onSecond.length} keys move`)
  for (const k of keys) {
    const r = await redises[owner(k)]!.call('GET', k)
    if (!(r.kind === 'bulk' && r.value?.toString() === 'two')) t.fail(`${k} not written to its new owner`)
  }
  seed.body = describe([two[1]!])
  await c.refresh()
  t.equal(c.nodes.length, 1)
  t.equal(await c.set(keys[0]!, 'three'), 'OK')
  t.same(await redises[1]!.call('GET', keys[0]!), { kind: 'bulk', value: Buffer.from('three') }, 'the remaining node owns everything')
  t.ok(c.stats().topology.refreshes >= 2)
  seed.body = 'garbage'
  await t.rejects(c.refresh(), code('BAD_TOPOLOGY'))
  t.equal(await c.get(keys[0]!), 'three', 'a failed refresh keeps the last topology')
  t.ok(c.stats().topology.refreshErrors >= 1)
})

t.test('quotas: per client and per node token buckets shed at once with QUOTA_EXCEEDED', async (t) => {
  const redis: RedisServer = await startRedis(t)
  const seed = await fakeSeed(t)
  seed.body = describe([{ port: redis.port, rack: 'r1' }])
  const c = await DynoClient.connect({ seeds: [seed.url], quota: { client: { ratePerSec: 1, burst: 10 } } })
  t.teardown(() => c.close())
  const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => c.get(`q:${i}`)))
  const ok = results.filter((r) => r.status === 'fulfilled').length
  t.ok(ok >= 10 && ok <= 11, `the burst of 10 passes (${ok})`)
  t.match(results.find((r) => r.status === 'rejected'), { reason: code('QUOTA_EXCEEDED') })
  t.ok(c.stats().shed >= 19)
  t.match(c.metricsText(), /^dyno_client_shed_total\{node="127\.0\.0\.1:\d+",dc="dc1",rack="r1"\} (19|20)$/m)
  const d = await DynoClient.connect({ seeds: [seed.url], quota: { node: { ratePerSec: 1, burst: 3 } } })
  t.teardown(() => d.close())
  // A micro-batch weighs its key count.
  await t.rejects(d.mget('a', 'b', 'c', 'd'), code('QUOTA_EXCEEDED'))
  t.same(await d.mget('a', 'b', 'c'), [null, null, null])
  const bucket = new TokenBucket({ ratePerSec: 1000, burst: 1 }, (() => { let now = 0; return () => (now += 0.5) })())
  t.ok(bucket.tryTake() && !bucket.tryTake() && bucket.tryTake(), 'refills with time')
})

t.test('retry budget: a node that never answers ends in RETRY_BUDGET_EXHAUSTED; writes are not retried by default', async (t) => {
  const blackhole = net.createServer(() => {})
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve))
  const sockets: net.Socket[] = []
  blackhole.on('connection', (s) => sockets.push(s))
  t.teardown(() => { for (const s of sockets) s.destroy(); blackhole.close() })
  const seed = await fakeSeed(t)
  seed.body = describe([{ port: (blackhole.address() as net.AddressInfo).port, rack: 'r1' }])
  const c = await DynoClient.connect({
    seeds: [seed.url], pool: { requestTimeoutMs: 150, connectTimeoutMs: 150 },
    retry: { reads: { policy: 'exponential', maxAttempts: 100, baseDelayMs: 20, budgetMs: 600 } },
  })
  t.teardown(() => c.close())
  const t0 = performance.now()
  await t.rejects(c.get('k'), code('RETRY_BUDGET_EXHAUSTED'))
  const took = performance.now() - t0
  t.ok(took >= 300 && took < 2000, `stopped by the budget (${Math.round(took)} ms)`)
  const w0 = performance.now()
  await t.rejects(c.set('k', 'v'), code('NODE_UNAVAILABLE'))
  t.ok(performance.now() - w0 < 600, 'a write: one attempt')
  const f = await DynoClient.connect({ seeds: [seed.url], pool: { requestTimeoutMs: 100, connectTimeoutMs: 100 }, retry: { reads: { policy: 'fixed', maxAttempts: 3, baseDelayMs: 10 } } })
  t.teardown(() => f.close())
  await t.rejects(f.get('k'), code('NODE_UNAVAILABLE'), 'attempts spent before the budget')
})

t.test('a seed with admin_read_token: the token in the seed URL (http://:<token>@host:port) is sent as a Bearer header', async (t) => {
  const backend = await startRedis(t)
  const [port, admin] = await Promise.all([freePort(), freePort()])
  await startDynoproxy(t, { config: { tok: { ...defaultPool(port, [backend]), stats_listen: `127.0.0.1:${admin}`, admin_read_token: 'peek-42' } }, workers: 1 })
  await t.rejects(DynoClient.connect({ seeds: [`http://127.0.0.1:${admin}`], discoveryTimeoutMs: 2000 }), { code: 'SEED_UNREACHABLE', message: /HTTP 401/ })
  const c = await DynoClient.connect({ seeds: [`http://:peek-42@127.0.0.1:${admin}`], discoveryTimeoutMs: 2000 })
  t.teardown(() => c.close())
  t.equal(await c.set('tok:k', 'v'), 'OK')
  t.equal(await c.get('tok:k'), 'v')
})
