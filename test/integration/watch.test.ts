// WATCH through a single-node pool (ioredis and raw RESP against real redis-servers): optimistic locking works as on Redis — a change by
// another client or by the watcher itself aborts EXEC, UNWATCH / DISCARD / RESET / disconnect end the watch and give the pinned connection back.

import t from 'tap'
import { Redis } from 'ioredis'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const node = await startProxiedRedis(t, { backends: 2, workers: 1 })
const statsUrl = `http://${node.pool['stats_listen'] as string}/metrics`

async function metricSum(name: string): Promise<number> {
  const text = await (await fetch(statsUrl)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^dynoproxy_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

function client(): Redis {
  const redis = new Redis({ port: node.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  return redis
}

/** Which backend (0 or 1) a key lands on. */
async function backendOf(key: string): Promise<number> {
  await client().set(key, 'probe')
  for (let i = 0; i < node.backends.length; i++) if (plain(await node.backends[i]!.call('EXISTS', key)) === 1) return i
  throw new Error(`${key} on no backend`)
}

t.test('ioredis optimistic locking: untouched runs, a change by another client aborts (nil), nothing applied', async (t) => {
  const a = client()
  const b = client()
  await a.set('{w}balance', '10')
  await a.watch('{w}balance')
  const v = Number(await a.get('{w}balance'))
  t.same(await a.multi().set('{w}balance', String(v + 5)).exec(), [[null, 'OK']], 'no one touched it: EXEC runs')
  t.equal(await b.get('{w}balance'), '15')

  await a.watch('{w}balance')
  await b.set('{w}balance', '100')
  t.equal(await a.multi().set('{w}balance', '0').exec(), null, 'changed by another client: EXEC answers nil')
  t.equal(await b.get('{w}balance'), '100', 'the transaction applied nothing')
  t.equal(await metricSum('server_pinned_connections'), 0, 'EXEC gave the pinned connection back')
})

t.test('raw pipeline: the watcher\'s own write aborts EXEC; empty MULTI under a broken watch is nil; UNWATCH and DISCARD end it', async (t) => {
  const c = await RespConnection.connect(node.port, { t })
  const own = (await c.pipeline([['SET', '{w}own', '1'], ['WATCH', '{w}own'], ['SET', '{w}own', '2'], ['MULTI'], ['INCR', '{w}own'], ['EXEC'], ['GET', '{w}own']])).map(plain)
  t.same(own, [{ ok: 'OK' }, { ok: 'OK' }, { ok: 'OK' }, { ok: 'OK' }, { ok: 'QUEUED' }, null, '2'], 'in order on the pinned connection: nil, INCR not applied')
  const other = await RespConnection.connect(node.port, { t })
  await c.call(['WATCH', '{w}own'])
  await other.call(['SET', '{w}own', '3'])
  t.same((await c.pipeline([['MULTI'], ['EXEC']])).map(plain), [{ ok: 'OK' }, null], 'an empty transaction goes to the datastore under WATCH')
  await c.call(['WATCH', '{w}own'])
  await other.call(['SET', '{w}own', '4'])
  t.same((await c.pipeline([['UNWATCH'], ['MULTI'], ['INCR', '{w}own'], ['EXEC']])).map(plain), [{ ok: 'OK' }, { ok: 'OK' }, { ok: 'QUEUED' }, [5]], 'UNWATCH: the change no longer counts')
  await c.call(['WATCH', '{w}own'])
  t.same((await c.pipeline([['MULTI'], ['DISCARD']])).map(plain), [{ ok: 'OK' }, { ok: 'OK' }])
  await other.call(['SET', '{w}own', '6'])
  t.same((await c.pipeline([['MULTI'], ['INCR', '{w}own'], ['EXEC']])).map(plain), [{ ok: 'OK' }, { ok: 'QUEUED' }, [7]], 'DISCARD unwatched')
  await c.call(['WATCH', '{w}own'])
  t.same(plain(await c.call(['RESET'])), { ok: 'RESET' })
  await other.call(['SET', '{w}own', '8'])
  t.same((await c.pipeline([['MULTI'], ['INCR', '{w}own'], ['EXEC']])).map(plain), [{ ok: 'OK' }, { ok: 'QUEUED' }, [9]], 'RESET unwatched')
  t.same(plain(await c.call(['UNWATCH'])), { ok: 'OK' }, 'UNWATCH with nothing watched')
  t.same(plain(await c.call(['WATCH', '{w}own', '{w}other'])), { ok: 'OK' }, 'several keys of one hash tag')
  t.same(plain(await c.call(['WATCH', '{w}third'])), { ok: 'OK' }, 'and more of the same datastore')
  await other.call(['SET', '{w}third', 'x'])
  t.same((await c.pipeline([['MULTI'], ['SET', '{w}own', 'no'], ['EXEC']])).map(plain).at(-1), null, 'the later WATCH counts too')
  t.equal(plain(await node.backends[0]!.call('EXISTS', 'unrelated')) as number, 0)
})

t.test('refusals: WATCH inside MULTI, keys over two datastores, a transaction elsewhere than the watch; bad arity', async (t) => {
  // Two keys on different backends.
  let k0 = ''
  let k1 = ''
  for (let i = 0; (k0 === '' || k1 === '') && i < 100; i++) {
    const k = `spread:${i}`
    if ((await backendOf(k)) === 0) k0 ||= k
    else k1 ||= k
  }
  t.ok(k0 !== '' && k1 !== '', `keys on both backends: ${k0} ${k1}`)
  const c = await RespConnection.connect(node.port, { t })
  t.match(plain(await c.call(['WATCH', k0, k1])), { err: /WATCH keys must map to one datastore/ })
  t.same(plain(await c.call(['WATCH', k0])), { ok: 'OK' })
  t.match(plain(await c.call(['WATCH', k1])), { err: /WATCH keys must map to one datastore/ }, 'a key of another datastore than the one watched')
  const r = (await c.pipeline([['MULTI'], ['WATCH', k0], ['SET', k1, 'x'], ['EXEC']])).map(plain)
  t.match(r[1], { err: /^ERR WATCH inside MULTI is not allowed$/ }, 'Redis\' words')
  t.match(r[2], { err: /must map to the datastore of the watched keys/ })
  t.match(r[3], { err: /^EXECABORT/ })
  t.equal(plain(await node.backends[1]!.call('GET', k1)), 'probe', 'nothing applied')
  t.match(plain(await c.call(['WATCH'])), { err: /wrong number of arguments/ })
})

t.test('contended counter: 12 clients, WATCH-GET-MULTI-SET-EXEC with retries, no lost update', async (t) => {
  await client().set('{w}counter', '0')
  const clients = Array.from({ length: 12 }, () => client())
  let aborted = 0
  await Promise.all(clients.map(async (r) => {
    for (let done = 0, tries = 0; done < 10 && tries < 2000; tries++) {
      await r.watch('{w}counter')
      const v = Number(await r.get('{w}counter'))
      const res = await r.multi().set('{w}counter', String(v + 1)).exec()
      if (res === null) aborted++
      else done++
    }
  }))
  t.equal(await client().get('{w}counter'), '120', 'every increment counted once')
  t.comment(`${aborted} EXECs aborted by a concurrent change`)
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 0, 5000, 'no pinned connection left')
  t.ok((await metricSum('watch_pins_total')) >= 120, 'pins counted')
})

t.test('a client that leaves while watching gives its connection back', async (t) => {
  const conns = await Promise.all(Array.from({ length: 20 }, () => RespConnection.connect(node.port, { t })))
  for (const c of conns) t.same(plain(await c.call(['WATCH', '{w}left'])), { ok: 'OK' })
  t.equal(await metricSum('server_pinned_connections'), 20, 'one pinned connection per watching client')
  for (const c of conns) c.destroy()
  await waitFor(async () => (await metricSum('server_pinned_connections')) === 0, 5000, 'all given back')
  const c = await RespConnection.connect(node.port, { t })
  await c.call(['WATCH', '{w}left'])
  t.same((await c.pipeline([['MULTI'], ['SET', '{w}left', 'ok'], ['EXEC']])).map(plain).at(-1), [{ ok: 'OK' }], 'a reused connection carries no stale watch')
})
