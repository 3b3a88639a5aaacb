// Replication across racks and datacenters: a write through any node lands on the key's owner in every rack of both DCs, read from the redis-servers directly.
// It must never decide placement with the proxy's own ring code: owners come from the tests' placement model (test/helpers/cluster-ring.ts).

import t from 'tap'
import type { Test } from 'tap'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { Cluster, ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

// Racks of different sizes, so each rack has its own ring and a key's owners differ from rack to rack.
const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 3 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 2 }] },
  ],
})
const racks = [...new Set(cluster.nodes.map((n) => `${n.dc}/${n.rack}`))].map((r) => r.split('/') as [string, string])

async function valueOn(node: ClusterNode, key: string): Promise<string | null> {
  const r = await node.redis.call('GET', key)
  return r.kind === 'bulk' && r.value !== null ? r.value.toString() : null
}

/** The key reaches its owner in every rack of every DC, and no other node of those racks. */
async function assertReplicated(t: Test, c: Cluster, key: string, value: string): Promise<void> {
  for (const [dc, rack] of racks) {
    const owner = c.ownerOf(key, dc, rack)
    t.ok(await waitForValue(owner.redis, key, value), `${key} = ${value} on its owner ${owner.name} in ${dc}/${rack}`)
  }
  for (const n of c.nodes) {
    if (c.ownerOf(key, n.dc, n.rack) === n) continue
    t.equal(await valueOn(n, key), null, `${key} not stored on non-owner ${n.name}`)
  }
}

t.test('a SET through each node reaches the owner in every rack and in the remote DC', async (t) => {
  for (const [i, node] of cluster.nodes.entries()) {
    const key = `r:set:${i}`
    const reply = await node.call('SET', key, `v${i}`)
    t.same(plain(reply), { ok: 'OK' }, `SET ${key} through ${node.name}`)
    await assertReplicated(t, cluster, key, `v${i}`)
  }
})

t.test('an MSET split over owners is replicated piece by piece to every rack', async (t) => {
  const keys = Array.from({ length: 30 }, (_, i) => `r:mset:${i}`)
  const node = cluster.node('dc1', 'rack3', 1)
  t.same(plain(await node.call('MSET', ...keys.flatMap((k, i) => [k, `m${i}`]))), { ok: 'OK' }, 'MSET through dc1/rack3/1')
  for (const [i, key] of keys.entries()) await assertReplicated(t, cluster, key, `m${i}`)
  const fromDc2 = cluster.node('dc2', 'rack1', 0)
  t.same(plain(await fromDc2.call('MSET', ...keys.flatMap((k, i) => [k, `n${i}`]))), { ok: 'OK' }, 'MSET through dc2/rack1/0')
  for (const [i, key] of keys.entries()) await assertReplicated(t, cluster, key, `n${i}`)
})

t.test('a DEL is replicated too: the key leaves every rack', async (t) => {
  const keys = Array.from({ length: 12 }, (_, i) => `r:del:${i}`)
  const writer = cluster.node('dc1', 'rack1', 0)
  await writer.call('MSET', ...keys.flatMap((k) => [k, 'x']))
  for (const key of keys) await assertReplicated(t, cluster, key, 'x')
  const deleted = await writer.call('DEL', ...keys)
  t.same(plain(deleted), keys.length, 'DEL counts every key once (its local-rack owners answer)')
  for (const key of keys) {
    for (const [dc, rack] of racks) {
      const owner = cluster.ownerOf(key, dc, rack)
      const gone = await waitFor(async () => (await valueOn(owner, key)) === null, 5000, `${key} gone from ${owner.name}`).catch(() => false)
      t.ok(gone, `${key} deleted on ${owner.name}`)
    }
  }
})

// The rule: a replica applies writes to one key in the order the coordinator accepted them. (Writes through
// different coordinators at DC_ONE have no such order across datacenters, in Dynomite either, so they are not tested.)
for (const coordinator of [['dc1', 'rack2', 0], ['dc2', 'rack1', 1]] as [string, string, number][]) {
  t.test(`pipelined writes to one key through ${coordinator.join('/')} are applied in order on every replica`, async (t) => {
    const node = cluster.node(coordinator[0], coordinator[1], coordinator[2])
    const key = `r:append:${coordinator[0]}`
    const conn = await node.connect()
    const replies = await conn.pipeline([
      ...Array.from({ length: 50 }, (_, i) => ['APPEND', key, String(i % 10)]),
      ...Array.from({ length: 20 }, (_, i) => ['SET', `${key}:set`, `s${i}`]),
    ])
    t.same(plain(replies[49]!), 50, 'the 50th APPEND answers length 50')
    const want = Array.from({ length: 50 }, (_, i) => String(i % 10)).join('')
    for (const [dc, rack] of racks) {
      const owner = cluster.ownerOf(key, dc, rack)
      t.ok(await waitForValue(owner.redis, key, want), `APPENDs applied in order on ${owner.name}`)
      const setOwner = cluster.ownerOf(`${key}:set`, dc, rack)
      t.ok(await waitForValue(setOwner.redis, `${key}:set`, 's19'), `the last SET wins on ${setOwner.name}`)
    }
  })
}
