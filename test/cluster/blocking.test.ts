// Blocking commands on cluster nodes (real dynoproxy + redis-server processes, 2 racks and a remote DC): the keys' owner in this rack
// serves the call on a connection of its own — through another node over a dedicated link connection — and what it popped is
// replicated as its non-blocking effect; a client that leaves mid-block pops nothing anywhere.

import t from 'tap'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  pool: { timeout: 500 },
})
const RACKS = [['dc1', 'rack1'], ['dc1', 'rack2'], ['dc2', 'rack1']] as const
const owner = cluster.ownerOf('{bq}', 'dc1', 'rack1')
const other = cluster.rackNodes('dc1', 'rack1').find((n) => n !== owner)!
const rack2 = cluster.rackNodes('dc1', 'rack2')[0]!

function owners(key: string): ClusterNode[] {
  return RACKS.map(([dc, rack]) => cluster.ownerOf(key, dc, rack))
}

function client(node: ClusterNode): Redis {
  const redis = new Redis({ port: node.clientPort, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  return redis
}

/** After a sentinel written later on the same path reached every rack: `check` on every owner of `key`. */
async function settled(t: Test, via: ClusterNode, key: string, check: (n: ClusterNode) => Promise<void>): Promise<void> {
  const sentinel = `${key}:sentinel:${Date.now()}`
  await client(via).set(sentinel, 'x')
  for (const n of owners(sentinel)) t.ok(await waitForValue(n.redis, sentinel, 'x', 10_000), `sentinel on ${n.name}`)
  for (const n of owners(key)) await check(n)
}

t.test('BRPOP through another node of the rack, woken by a push through another rack; the pop is replicated as RPOP', async (t) => {
  const consumer = client(other)
  const producer = client(rack2)
  const call = consumer.brpop('{bq}jobs', 10)
  await new Promise((r) => setTimeout(r, 300))
  await producer.lpush('{bq}jobs', 'first', 'second')
  t.same(await call, ['{bq}jobs', 'first'])
  await settled(t, rack2, '{bq}jobs', async (n) => {
    t.same(plain(await n.redis.call('LRANGE', '{bq}jobs', '0', '-1')), ['second'], `${n.name}: popped everywhere, the rest kept`)
  })
})

t.test('BZPOPMIN and BLMOVE: the effect (ZREM, LMOVE) reaches every rack and the remote DC', async (t) => {
  const c = client(owner)
  await c.zadd('{bq}z', 1, 'a', 2, 'b', 3, 'c')
  t.same(await c.bzpopmin('{bq}z', 5), ['{bq}z', 'a', '1'])
  await c.rpush('{bq}src', 'x', 'y')
  t.equal(await c.blmove('{bq}src', '{bq}dst', 'LEFT', 'RIGHT', 5), 'x')
  await settled(t, owner, '{bq}z', async (n) => {
    t.same(plain(await n.redis.call('ZRANGE', '{bq}z', '0', '-1')), ['b', 'c'], `${n.name}: ZREM applied`)
    t.same(plain(await n.redis.call('LRANGE', '{bq}src', '0', '-1')), ['y'], `${n.name}: source`)
    t.same(plain(await n.redis.call('LRANGE', '{bq}dst', '0', '-1')), ['x'], `${n.name}: destination`)
  })
})

t.test('a call that times out removes nothing; the client\'s timeout, not the pool\'s 500 ms', async (t) => {
  const started = Date.now()
  t.equal(await client(other).blpop('{bq}never', 1.5), null)
  t.ok(Date.now() - started >= 1400, 'waited the call\'s own timeout')
})

t.test('a client that leaves mid-block (through another node) pops nothing on any rack', async (t) => {
  const c = await other.connect()
  c.send(['BLPOP', '{bq}left', '0'])
  await waitFor(async () => String(plain(await owner.redis.call('INFO', 'clients'))).includes('blocked_clients:1'), 5000, 'blocked on the owner')
  c.destroy()
  await waitFor(async () => String(plain(await owner.redis.call('INFO', 'clients'))).includes('blocked_clients:0'), 5000, 'released on the owner')
  await client(rack2).rpush('{bq}left', 'kept')
  await settled(t, rack2, '{bq}left', async (n) => {
    t.same(plain(await n.redis.call('LRANGE', '{bq}left', '0', '-1')), ['kept'], `${n.name} kept it`)
  })
})

t.test('XREADGROUP BLOCK is refused on a cluster node with the reason; XREAD BLOCK is served', async (t) => {
  const c = await owner.connect()
  t.match(plain(await c.call(['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '10', 'STREAMS', '{bq}s', '>'])), { err: /XREADGROUP with BLOCK is not supported on a cluster node/ })
  await c.call(['XADD', '{bq}s', '*', 'f', 'v'])
  const r = plain(await c.call(['XREAD', 'BLOCK', '1000', 'STREAMS', '{bq}s', '0'])) as unknown[][]
  t.equal(r[0]![0], '{bq}s')
  c.destroy()
})
