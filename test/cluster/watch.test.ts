// WATCH on cluster nodes (ioredis and raw RESP, real redis-servers, peers with a secret): through the keys' owner (a pinned connection to
// its datastore) and through another node of the rack (a link opened for that client, on which the owner pins its own). EXEC runs there,
// a change anywhere aborts it, and only a transaction that ran reaches the other racks and the remote DC.

import t from 'tap'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 2 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  pool: { peer_secret: 'watch-secret' },
})
const RACKS = [['dc1', 'rack1'], ['dc1', 'rack2'], ['dc2', 'rack1']] as const
const owner = cluster.ownerOf('{w}', 'dc1', 'rack1')
const other = cluster.rackNodes('dc1', 'rack1').find((n) => n !== owner)!
const rack2 = cluster.rackNodes('dc1', 'rack2')[0]!

function owners(key: string): ClusterNode[] {
  return RACKS.map(([dc, rack]) => cluster.ownerOf(key, dc, rack))
}

function client(node: ClusterNode): Redis {
  const redis = new Redis({ port: node.clientPort, host: '127.0.0.1', password: 'watch-secret', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  return redis
}

async function pinned(node: ClusterNode): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  let sum = 0
  for (const m of text.matchAll(/^dynoproxy_server_pinned_connections\{[^}]*\} (\S+)$/gm)) sum += Number(m[1])
  return sum
}

/** `key` holds `value` on its owner in every rack (replication is asynchronous). */
async function everywhere(t: Test, key: string, value: string): Promise<void> {
  for (const n of owners(key)) t.ok(await waitForValue(n.redis, key, value, 10_000), `${key}=${value} on ${n.name}`)
}

t.test('through the owner and through another node: WATCH, GET, MULTI/EXEC runs, and the block reaches every rack', async (t) => {
  for (const [via, key] of [[owner, '{w}a'], [other, '{w}b']] as const) {
    const r = client(via)
    await r.set(key, '1')
    await r.watch(key)
    const v = Number(await r.get(key))
    t.same(await r.multi().set(key, String(v + 10)).incr(key).exec(), [[null, 'OK'], [null, 12]], `EXEC ran through ${via.name}`)
    await everywhere(t, key, '12')
  }
})

t.test('a change through a node of another rack aborts the EXEC (nil), and the aborted block is replicated nowhere', async (t) => {
  const watcher = client(other)
  const writer = client(rack2)
  await watcher.set('{w}c', 'start')
  await everywhere(t, '{w}c', 'start')
  await watcher.watch('{w}c')
  t.equal(await watcher.get('{w}c'), 'start')
  await writer.set('{w}c', 'from-rack2')
  t.ok(await waitForValue(owner.redis, '{w}c', 'from-rack2', 10_000), 'the change reached the watched owner')
  t.equal(await watcher.multi().set('{w}c', 'from-watcher').exec(), null, 'EXEC answers nil')
  // A later write on the same path: once it is everywhere, the aborted block would have been too.
  await writer.set('{w}c:sentinel', 'x')
  await everywhere(t, '{w}c:sentinel', 'x')
  for (const n of owners('{w}c')) t.equal(plain(await n.redis.call('GET', '{w}c')), 'from-rack2', `${n.name} kept the other client's value`)
})

t.test('raw pipeline through another node: the watcher\'s own write aborts EXEC, replies in order', async (t) => {
  const c = await other.connect()
  await c.call(['AUTH', 'watch-secret'])
  const r = (await c.pipeline([['SET', '{w}own', '1'], ['WATCH', '{w}own'], ['SET', '{w}own', '2'], ['MULTI'], ['INCR', '{w}own'], ['EXEC'], ['GET', '{w}own']])).map(plain)
  t.same(r, [{ ok: 'OK' }, { ok: 'OK' }, { ok: 'OK' }, { ok: 'OK' }, { ok: 'QUEUED' }, null, '2'])
  const elsewhere = cluster.keysOwnedBy(other, 'elsewhere', 1)[0]!
  t.match(plain(await c.call(['WATCH', '{w}own', elsewhere])), { err: /WATCH keys must map to one datastore/ }, 'keys of two owners')
  c.destroy()
})

t.test('contended counter through both nodes: no lost update, the final value on every replica; pins given back', async (t) => {
  const first = client(owner)
  await first.set('{w}n', '0')
  await everywhere(t, '{w}n', '0')
  const clients = [...Array.from({ length: 5 }, () => client(owner)), ...Array.from({ length: 5 }, () => client(other))]
  await Promise.all(clients.map(async (r) => {
    for (let done = 0, tries = 0; done < 6 && tries < 2000; tries++) {
      await r.watch('{w}n')
      const v = Number(await r.get('{w}n'))
      if ((await r.multi().set('{w}n', String(v + 1)).exec()) !== null) done++
    }
  }))
  t.equal(await first.get('{w}n'), '60', 'every increment once')
  await everywhere(t, '{w}n', '60')
  for (const r of clients) r.disconnect()
  await waitFor(async () => (await pinned(owner)) === 0, 10_000, 'the owner holds no pinned connection')
  await waitFor(async () => (await pinned(other)) === 0, 10_000, 'neither does the other node')
  t.pass('every pinned connection given back')
})
